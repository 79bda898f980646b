"""A worker process for multi-process tests: ``python -m tests.e2e.worker_main [--handlers M]``.

It runs the same loop as ``opsdesk worker`` (``run_worker_process``) against
OPSDESK_DATABASE_URL; ``--handlers`` names a module whose ``handlers(settings)`` returns the
job kinds to run (default: opsdesk's own ``default_handlers``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging

from opsdesk.core.settings import Settings
from opsdesk.worker.handlers import default_handlers
from opsdesk.worker.process import run_worker_process
from opsdesk.worker.runner import HandlerSpec


def _handlers(module_name: str | None, settings: Settings) -> dict[str, HandlerSpec]:
    if module_name is None:
        return default_handlers(settings)
    module = importlib.import_module(module_name)
    found: dict[str, HandlerSpec] = module.handlers(settings)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handlers", default=None, help="module with handlers(settings)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--lease-s", type=float, default=60.0)
    parser.add_argument("--poll-s", type=float, default=0.2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()
    asyncio.run(
        run_worker_process(
            settings,
            handlers=_handlers(args.handlers, settings),
            concurrency=args.concurrency,
            batch=args.batch,
            lease_s=args.lease_s,
            poll_s=args.poll_s,
        )
    )


if __name__ == "__main__":
    main()
