"""SMS length in segments: GSM-7 160/153, UCS-2 70/67, extension characters count twice."""

import pytest

from backoffice.messaging.channels import sms_length


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # an extension character takes two septets
        ("€" * 81, "GSM-7", 2),
        ("ñÑüÜ¿¡é" * 10, "GSM-7", 1),
        ("á" * 70, "UCS-2", 1),  # á is not in GSM 03.38
        ("á" * 71, "UCS-2", 2),
        ("á" * 134, "UCS-2", 2),
        ("á" * 135, "UCS-2", 3),
        ("🙂" * 35, "UCS-2", 1),  # an emoji is two UTF-16 units
        ("🙂" * 36, "UCS-2", 2),
    ],
)
def test_sms_length_counts_segments_by_encoding(text, encoding, segments):
    length = sms_length(text)

    assert (length.encoding, length.segments) == (encoding, segments)
