"""Alert identity: Prometheus's label-set fingerprint and our group keys."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEPARATOR = 0xFF


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus's ``LabelSet.Fingerprint``: FNV-1a 64 over sorted names and values."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                value = ((value ^ byte) * _FNV_PRIME) & _MASK
            value = ((value ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{value:016x}"


def group_key(
    *, group_by: Sequence[str], labels: Mapping[str, str], sender_group: str, dedup_key: str
) -> tuple[str, dict[str, str]]:
    """(key, the labels it was made of): the configured labels, else the sender's group,
    else the alert alone. Hashed so any length of label values fits the column."""
    if group_by:
        chosen = {name: labels.get(name, "") for name in group_by}
        text = "labels\x00" + "\x00".join(f"{k}={v}" for k, v in sorted(chosen.items()))
    elif sender_group:
        chosen, text = {}, "sender\x00" + sender_group
    else:
        chosen, text = {}, "alert\x00" + dedup_key
    return hashlib.sha256(text.encode()).hexdigest(), chosen
