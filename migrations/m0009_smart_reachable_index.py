"""The clients the SMART rule can reach (consent granted, a service active), by code.

The tile counts them and /servizi-smart pages through them: a partial index holds
exactly those rows, in the order the list shows them.
"""

SQLITE = [
    (
        "CREATE INDEX IF NOT EXISTS client_smart_reachable ON client (studio_id, code) WHERE "
        "consent_answer = 'granted' AND smart_services > 0"
    ),
]

POSTGRESQL = [
    (
        "CREATE INDEX IF NOT EXISTS client_smart_reachable ON client (studio_id, code) WHERE "
        "consent_answer = 'granted' AND smart_services > 0"
    ),
]
