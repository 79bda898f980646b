"""Imports every feature's tables so that Alembic and tests see the whole schema."""

from opsdesk.assignment import models as assignment_models
from opsdesk.auth import models as auth_models
from opsdesk.catalog import models as catalog_models
from opsdesk.collaboration import models as collaboration_models
from opsdesk.core.database import Base
from opsdesk.incidents import models as incident_models

__all__ = [
    "Base",
    "assignment_models",
    "auth_models",
    "catalog_models",
    "collaboration_models",
    "incident_models",
]
