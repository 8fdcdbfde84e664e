"""``python manage.py build_fallback_twiml --out DIR --static-base URL``: the static fallback files."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from telephony import fallback_file


class Command(BaseCommand):
    help = (
        "Write one fallback TwiML file per number in service (and goodbye.xml) to upload to a static "
        "host other than the platform; set each number's voice fallback URL to "
        "<static-base>/<number without +>.xml with method GET (README: 'The fallback outside the platform')."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--out", required=True, help="directory to write the files into")
        parser.add_argument("--static-base", required=True, help="https URL the files will be served from")

    def handle(self, *args, **options) -> None:
        base = options["static_base"]
        if not base.startswith("https://"):
            raise CommandError("--static-base must be an https:// URL (Twilio fetches the files from there).")
        files = fallback_file.build(static_base=base)
        written = fallback_file.write(files=files, into=Path(options["out"]))
        for item in files:
            self.stdout.write(f"{item.number} ({item.schema}) → {base.rstrip('/')}/{item.name}")
        self.stdout.write(self.style.SUCCESS(f"{len(written)} files written to {options['out']}"))
