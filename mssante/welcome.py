"""What ``mssante serve`` prints once listening: how to connect a mail client and the web inbox."""

from __future__ import annotations

import click

from mssante.demo import load_credentials, load_demo_patient
from mssante.settings import Settings


def print_welcome(settings: Settings, ports: dict[str, int]) -> None:
    host = settings.listen_host
    lines = [
        "",
        "mssante-gateway is running.",
        "",
        "Mail client (Thunderbird: Account Settings > Add Mail Account > Configure manually):",
        f"  Incoming IMAP   server {host}  port {ports.get('imaps', settings.imaps_port)}  SSL/TLS"
        f"   (or port {ports.get('imap', settings.imap_port)} STARTTLS)",
        f"  Outgoing SMTP   server {host}  port {ports['smtp_submission']}  STARTTLS"
        f"   (or port {ports['smtps']} SSL/TLS)",
        "  User name       your full mailbox address; authentication: normal password",
        f"  Certificate     development CA at {settings.tls_dir / 'dev-ca.pem'} (accept or import it)",
        f"  MX (other MTAs) {host}:{ports['smtp_mx']}",
        "",
        f"Patient web inbox: http://{host}:{ports['http']}/patient/   "
        f"(API docs: http://{host}:{ports['http']}/api/docs)",
        f"Directory search: http://{host}:{ports['http']}/api/directory/practitioners?q=martin   "
        f"(FHIR: http://{host}:{ports['http']}/fhir/Practitioner?family=martin)",
    ]
    if "imap" not in ports:
        lines.append("Note: the IMAP listeners are not part of this build yet.")
    credentials = load_credentials(settings)
    if credentials:
        lines += ["", "Demo mailboxes (address: password):"]
        lines += [f"  {address}: {password}" for address, password in credentials.items()]
    patient = load_demo_patient(settings)
    if patient:
        lines += [
            "",
            f"Demo patient (activate at http://{host}:{ports['http']}/patient/activation): INS {patient['ins']}, "
            f"born {patient['birth_date']}, activation code {patient['activation_code']}",
            f"  professionals write to {patient['address']}",
        ]
    lines += ["", f"Bound ports are also in {settings.ports_file}. Stop with Ctrl-C (SIGTERM).", ""]
    click.echo("\n".join(lines))
