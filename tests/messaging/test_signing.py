import time

import pytest

from backoffice.messaging import signing
from backoffice.messaging.errors import SignatureInvalid


def test_a_signature_made_with_the_channels_secret_verifies(settings):
    body = b'{"status": "delivered"}'
    header = signing.sign(b"test-webhook-secret-sms", body, int(time.time()))

    signing.verify("sms", body, {"X-Signature": header})
    signing.verify("sms", body, {"HTTP_X_SIGNATURE": header})


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("", "missing"),
        ("v1=abc", "t=<unix time>"),
        ("t=abc,v1=abc", "t=<unix time>"),
        ("t={now}", "v1=<signature>"),
        ("t={now},v1=deadbeef", "does not match"),
        # Values no signer sends: a refusal saying why, not a TypeError or an OverflowError (a 500 to the sender).
        ("t={now},v1=\u00e9t\u00e9", "does not match"),
        ("t=" + "9" * 400 + ",v1=abc", "tolerance"),
    ],
)
def test_a_malformed_or_wrong_signature_says_why(header, reason):
    # The time is taken when the test runs, not when it is collected: a long suite would age it past the tolerance.
    header = header.format(now=int(time.time()))

    with pytest.raises(SignatureInvalid) as refused:
        signing.verify("sms", b"{}", {"X-Signature": header})

    assert reason in refused.value.reason


def test_a_tampered_body_does_not_verify():
    header = signing.sign(b"test-webhook-secret-sms", b'{"status": "read"}', int(time.time()))

    with pytest.raises(SignatureInvalid):
        signing.verify("sms", b'{"status": "clicked"}', {"X-Signature": header})


def test_a_signature_older_than_the_tolerance_is_refused(settings):
    old = int(time.time()) - settings.MESSAGING_WEBHOOK_TOLERANCE - 5
    header = signing.sign(b"test-webhook-secret-sms", b"{}", old)

    with pytest.raises(SignatureInvalid, match="tolerance"):
        signing.verify("sms", b"{}", {"X-Signature": header})


def test_a_channel_without_a_secret_refuses_everything(settings):
    settings.MESSAGING_WEBHOOK_SECRETS = {**settings.MESSAGING_WEBHOOK_SECRETS, "sms": ""}
    header = signing.sign(b"", b"{}", int(time.time()))

    with pytest.raises(SignatureInvalid, match="no webhook secret"):
        signing.verify("sms", b"{}", {"X-Signature": header})


def test_a_rotation_may_send_the_old_and_the_new_signature():
    now = int(time.time())
    old = signing.sign(b"old-secret", b"{}", now).split("v1=")[1]
    new = signing.sign(b"test-webhook-secret-sms", b"{}", now).split("v1=")[1]

    signing.verify("sms", b"{}", {"X-Signature": f"t={now},v1={old},v1={new}"})
