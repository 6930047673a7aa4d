"""Shared set-up for the SMART tests: switching option 7 and an operator's switch."""

from models import Client, SmartService, Studio, StudioSettings, User


def set_option7(studio_code="BPF103", on=True):
    studio = Studio.get(Studio.code == studio_code)
    StudioSettings.update(smart_access=on).where(StudioSettings.studio == studio).execute()


def set_switch(username, on=True):
    User.update(smart_access=on).where(User.username == username).execute()


def user(username):
    return User.get(User.username == username)


def client(code, studio_code="BPF103"):
    return Client.select().join(Studio).where(
        (Client.code == code) & (Studio.code == studio_code)).get()


def service(code):
    return SmartService.get(SmartService.code == code)
