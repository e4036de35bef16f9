"""Sample mail for the demo mailboxes (Maildir under POSTERN_MAIL_ROOT), once: held messages of every
reason, an inbox, and an archive with a sub-folder for the folders browser."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from flask import current_app

from .clock import utcnow
from .integrations.mailstore import maildir_root

# Harmless by design: the EICAR test string every antivirus flags.
EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def _message(n: int, recipient: str, sender: str, subject: str, reason: str, score: str,
             text: str, html: str | None = None, attachment: tuple[str, str, bytes] | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(_when(n))
    message["Message-ID"] = f"<demo-{n}-{recipient}>"
    message["X-Fuglu-Id"] = f"demo{n:02d}-{recipient.split('@')[0]}"
    message["X-Spam-Score"] = score
    message["X-Quarantine-Reason"] = reason
    message["X-Original-To"] = recipient
    if reason == "VIRUS":
        message["X-Virus-Name"] = "Eicar-Test-Signature"
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    if attachment:
        name, maintype_subtype, data = attachment
        maintype, subtype = maintype_subtype.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


def _when(n: int) -> datetime:
    return (utcnow() - timedelta(hours=5 * n + 1)).replace(tzinfo=UTC, microsecond=0)


def samples(recipient: str) -> list[EmailMessage]:
    return [
        _message(1, recipient, "Lucky Winner <prize@lottery-win.example>", "You have WON 1,000,000 EUR!!!", "SPAM",
                 "14.2", "Send us your bank details to claim your prize."),
        _message(2, recipient, "IT Support <support@helpdesk-secure.example>", "Invoice attached", "VIRUS", "3.1",
                 "Please open the attached invoice.", attachment=("invoice.com", "application/octet-stream",
                                                                 EICAR.encode())),
        _message(3, recipient, "Shop Deals <news@deals.example>", "Black Friday: 70% off everything", "ADVERT", "4.0",
                 "Our best offers of the year.",
                 html='<h1>Black Friday</h1><p>Up to <b>70%</b> off!</p>'
                      '<img src="https://tracker.deals.example/pixel.gif?u=1" width="1" height="1">'
                      '<img src="https://cdn.deals.example/banner.jpg" alt="banner">'),
        _message(4, recipient, "Partner <orders@partner.example>", "Order form", "BAD_ATTACHMENTS", "1.2",
                 "The order form is attached.", attachment=("order.exe", "application/x-msdownload", b"MZ demo")),
        _message(5, recipient, "Newsletter <hello@weekly.example>", "This week in mail security", "SPAM", "6.3",
                 "Plain text version.",
                 html='<p>Hello!</p><p onclick="alert(1)">Click <a href="javascript:alert(2)">here</a></p>'
                      '<script>alert(3)</script><img src="https://weekly.example/open.gif">'),
    ]


def _kept(n: int, recipient: str, sender: str, subject: str, text: str) -> mailbox.MaildirMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, recipient, subject
    message["Date"] = format_datetime(_when(n))
    message["Message-ID"] = f"<kept-{n}-{recipient}>"
    message.set_content(text)
    kept = mailbox.MaildirMessage(message.as_bytes())
    kept.set_subdir("cur")
    kept.set_flags("S" if n % 3 else "")
    return kept


def _folders(box: mailbox.Maildir, recipient: str) -> None:
    """An inbox and a retention archive (with a sub-folder), so that *Folders* and *Reply* have mail."""
    domain = recipient.split("@")[1]
    for n, (who, subject) in enumerate((("Bob", "Team lunch on Friday"), ("Carol", "Q3 figures"),
                                        ("Dave", "Re: the new gateway"))):
        box.add(_kept(n, recipient, f"{who} <{who.lower()}@{domain}>", subject, f"Hello,\n\n{subject}.\n"))
    archive = box.get_folder("Archive")
    for n in range(3, 9):
        archive.add(_kept(n * 40, recipient, f"Archive <records@{domain}>", f"Monthly report {n}",
                          f"Report number {n}.\n"))
    older = archive.add_folder("2025") if "2025" not in archive.list_folders() else archive.get_folder("2025")
    older.add(_kept(900, recipient, f"Legal <legal@{domain}>", "Contract renewal 2025", "Signed copy.\n"))


def seed(recipients: list[str]) -> int:
    """Fill the Quarantine folder of each recipient's Maildir if it is empty; returns messages written."""
    base = Path(current_app.config["MAIL_ROOT"])
    written = 0
    for recipient in recipients:
        root = maildir_root(base, recipient)
        root.parent.mkdir(parents=True, exist_ok=True)
        box = mailbox.Maildir(str(root), create=True)
        for name in ("Quarantine", "Sent", "Archive"):
            if name not in box.list_folders():
                box.add_folder(name)
        quarantine = box.get_folder("Quarantine")
        if quarantine.keys():
            continue
        for message in samples(recipient):
            quarantine.add(mailbox.MaildirMessage(message.as_bytes()))
            written += 1
        _folders(box, recipient)
    return written
