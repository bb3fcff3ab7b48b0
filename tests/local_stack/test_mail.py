"""The SMTP catcher, its mailbox, `./sparkify alerts` and the demo's corrupted day."""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage

from local_stack import cli, timeouts
from local_stack.mail import Mailbox


def send(catcher, subject: str, html: str | None = None) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "sparkify-alerts@localhost", "oncall@sparkify.test", subject
    message.set_content(html or f"body of {subject}", subtype="html" if html else "plain")
    with smtplib.SMTP(catcher.host, catcher.port, timeout=timeouts.SMTP_SEND) as smtp:
        smtp.send_message(message)


def test_each_message_is_saved_as_one_eml_and_listed_newest_first(smtp_catcher, mailbox):
    send(smtp_catcher, "first")
    send(smtp_catcher, "second", html='<div style="white-space: pre-wrap">a &lt;b&gt;<br><a href="http://x">http://x</a></div>')
    second, first = mailbox.messages()
    assert (first.subject, second.subject) == ("first", "second")
    assert [path.suffix for path in smtp_catcher.mail_dir.iterdir()] == [".eml", ".eml"]
    assert first.received < second.received
    assert first.text() == "body of first\n" and second.text() == "a <b>\nhttp://x\n"
    assert second.show().startswith("From: sparkify-alerts@localhost\nTo: oncall@sparkify.test\n")
    assert mailbox.clear() == 2 and mailbox.messages() == []


def test_sparkify_alerts_lists_shows_and_clears(smtp_catcher, mailbox, monkeypatch, capsys):
    monkeypatch.setenv("SPARKIFY_STATE_DIR", str(smtp_catcher.mail_dir.parent))  # the stack's mail/ is <state>/mail
    assert cli.main(["alerts"]) == 0
    assert "No alerts received" in capsys.readouterr().out
    send(smtp_catcher, "[sparkify] sparkify_etl FAILED for 2018-11-02: stage.stage_events")
    send(smtp_catcher, "[sparkify] sparkify_etl FAILED for 2018-11-03: run_quality_checks")
    assert cli.main(["alerts"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith("  1  ") and listing[0].endswith("FAILED for 2018-11-03: run_quality_checks")
    assert listing[1].startswith("  2  ") and listing[1].endswith("FAILED for 2018-11-02: stage.stage_events")
    assert cli.main(["alerts", "--show", "2"]) == 0
    assert "Subject: [sparkify] sparkify_etl FAILED for 2018-11-02: stage.stage_events\n" in capsys.readouterr().out
    assert cli.main(["alerts", "--show", "3"]) == 2
    assert "No alert number 3: 2 received" in capsys.readouterr().err
    assert cli.main(["alerts", "--clear"]) == 0
    assert Mailbox(smtp_catcher.mail_dir).messages() == []


def test_the_corrupt_day_is_a_copy_in_the_state_dir_loaded_over_the_days_object(tmp_path, s3_server, s3_bucket, s3_client):
    data = tmp_path / "data"
    day_file = data / "log_data/2018/11/2018-11-02-events.json"
    day_file.parent.mkdir(parents=True)
    events = [{"ts": 1541116800000 + n, "method": "PUT", "page": "NextSong"} for n in range(7)]
    original = "\n".join(json.dumps(event) for event in events)
    day_file.write_text(original)

    key = cli.load_corrupt_day(data, "2018-11-02", tmp_path / "state/corrupt-data", {"endpoint_url": s3_server, "bucket": s3_bucket})
    assert key == "log_data/2018/11/2018-11-02-events.json"
    loaded = [json.loads(line) for line in s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read().decode().splitlines()]
    assert [event["method"] for event in loaded] == ["POST", "PUT", "PUT", "PUT", "PUT", "POST", "PUT"]
    assert [event["ts"] for event in loaded] == [event["ts"] for event in events]
    assert day_file.read_text() == original
    assert (tmp_path / "state/corrupt-data" / key).is_file()
