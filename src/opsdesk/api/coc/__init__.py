"""Huawei Cloud COC-compatible routes (``/v1``, ``/v2``): COC's paths, names and envelope."""
