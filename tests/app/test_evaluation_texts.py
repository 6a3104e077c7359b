"""How the Evaluate page words a photo's answer (app/evaluation/photo_gallery.py)."""

import pytest

from app.evaluation.photo_gallery import caption
from services.evaluation.photo_results import PhotoResult


@pytest.mark.parametrize(
    ("is_dog", "words"),
    [
        (True, "said **Afghan Hound** (18%), is **Beagle**"),
        (None, "said **Afghan Hound** (18%), is **Beagle**"),  # a model without a dog verdict
        (False, "said **not a dog** (nearest breed: Afghan Hound, 18%), is **Beagle**"),
    ],
)
def test_a_misclassified_photo_s_caption(is_dog: bool | None, words: str) -> None:
    assert caption(PhotoResult("beagle/b.jpg", "beagle", ("afghan_hound",), (0.18,), is_dog)) == words
