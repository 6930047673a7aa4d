"""What the browser tests measure of a page's layout."""

# Elements drawn past the right edge of the window, as short HTML excerpts. Elements a
# person never sees (not displayed, invisible, or visually hidden: clipped to nothing) do
# not count.
OVERFLOWING_ELEMENTS = """() => {
  const width = document.documentElement.clientWidth;
  const hidden = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.display === "none" || style.visibility === "hidden" || style.clip === "rect(0px, 0px, 0px, 0px)") return true;
    }
    return false;
  };
  return Array.from(document.body.querySelectorAll("*"))
    .filter((element) => {
      const box = element.getBoundingClientRect();
      return box.width > 0 && box.right > width + 0.5 && !hidden(element);
    })
    .map((element) => element.outerHTML.slice(0, 160));
}"""


def too_wide(page) -> list[str]:
    """Why the page does not fit its window's width: [] when it fits."""
    problems = page.evaluate(OVERFLOWING_ELEMENTS)
    if page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"):
        problems.append("the page scrolls sideways")
    return problems
