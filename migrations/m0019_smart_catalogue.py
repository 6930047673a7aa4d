"""The SMART service catalogue (Fattura SMART, SMART Hub, Corrispettivi SMART) exists on
every installation, not only after seed-demo: an import naming a service finds it.
Idempotent: a catalogue already there (seed-demo ran before) is left as it is."""

SQLITE = [
    "INSERT OR IGNORE INTO \"smart_service\" (\"code\", \"name\", \"position\") VALUES "
    "('fattura_smart', 'Fattura SMART', 0), ('smart_hub', 'SMART Hub', 1), "
    "('corrispettivi_smart', 'Corrispettivi SMART', 2)",
]

POSTGRESQL = [
    "INSERT INTO \"smart_service\" (\"code\", \"name\", \"position\") VALUES "
    "('fattura_smart', 'Fattura SMART', 0), ('smart_hub', 'SMART Hub', 1), "
    "('corrispettivi_smart', 'Corrispettivi SMART', 2) ON CONFLICT DO NOTHING",
]
