"""One name per breed, whatever spelled it: a class folder (`001.Affenpinscher`), a trained model's Udacity label
(`Affenpinscher`) or the stock model's ImageNet label (`affenpinscher`, `Blenheim_spaniel`).

Answers and set classes meet on a canonical key (lower case, no `NNN.` prefix, underscores); ImageNet labels are
first translated through the Udacity-to-ImageNet table, where one ImageNet class can stand for two Udacity breeds
(`Blenheim_spaniel` is both the Cavalier King Charles and the English toy spaniel): the answer counts as the
photo's own breed if that is one of them. A Udacity name is never translated (`Cocker_spaniel` is a breed of its
own there).
"""

from __future__ import annotations

import re
from functools import cache

from classifier.labels import imagenet_labels, udacity_imagenet_indices, udacity_labels

_PREFIX = re.compile(r"^\d+\.")
_SMALL_WORDS = frozenset({"and", "de", "des", "du", "of", "the"})


def canonical(name: str) -> str:
    """`001.Affenpinscher`, `Affenpinscher` and `affenpinscher` all become `affenpinscher`."""
    return _PREFIX.sub("", name.strip()).replace(" ", "_").lower()


def display(name: str) -> str:
    """The one form a breed reads in on every page, whichever list spelled it (ImageNet's `dalmatian`,
    `EntleBucher`, `black-and-tan coonhound`; Udacity's `Great_pyrenees`; a class folder's `042.Cardigan_welsh_corgi`):
    words capitalised, joining words (and, de, des, of…) in lower case, hyphens kept: `Dalmatian`, `Entlebucher`,
    `Great Pyrenees`, `Black-and-Tan Coonhound`, `Bouvier des Flandres`, `Cardigan Welsh Corgi`."""
    parts = re.split(r"([\s_]+|-)", _PREFIX.sub("", name.strip()))
    shown: list[str] = []
    for index, part in enumerate(parts):
        if index % 2:  # a separator
            shown.append("-" if part == "-" else " ")
        elif part:
            word = part.lower()
            shown.append(word if index and word in _SMALL_WORDS else word[:1].upper() + word[1:])
    return "".join(shown)


@cache
def _imagenet_to_udacity() -> dict[str, tuple[str, ...]]:
    """Canonical ImageNet label → the canonical Udacity breeds it stands for (Udacity's own names excluded)."""
    labels, breeds = imagenet_labels(), udacity_labels()
    own = {canonical(breed) for breed in breeds}
    table: dict[str, list[str]] = {}
    for breed, indices in zip(breeds, udacity_imagenet_indices(), strict=True):
        for index in indices:
            if canonical(labels[index]) not in own or canonical(labels[index]) == canonical(breed):
                table.setdefault(canonical(labels[index]), []).append(canonical(breed))
    return {label: tuple(found) for label, found in table.items()}


def resolve(label: str, truth: str | None = None) -> str:
    """The canonical breed an answer's `label` names; `truth` (canonical) decides between the breeds one ImageNet
    class stands for. A label nothing translates stays itself (it may still name a class of the set)."""
    key = canonical(label)
    candidates = _imagenet_to_udacity().get(key)
    if not candidates:
        return key
    return truth if truth in candidates else candidates[0]


def nameable(model_labels: list[str]) -> set[str]:
    """The canonical breeds a model with these labels can answer."""
    found: set[str] = set()
    for label in model_labels:
        key = canonical(label)
        found.update(_imagenet_to_udacity().get(key) or (key,))
    return found
