"""Imports every feature's tables so that Alembic and tests see the whole schema."""

from opsdesk.alerts import models as alert_models
from opsdesk.assignment import models as assignment_models
from opsdesk.auth import models as auth_models
from opsdesk.catalog import models as catalog_models
from opsdesk.collaboration import models as collaboration_models
from opsdesk.core import jobs as job_models
from opsdesk.core.database import Base
from opsdesk.desk import models as desk_models
from opsdesk.incidents import models as incident_models
from opsdesk.intake.email import models as inbound_mail_models
from opsdesk.knowledge import article_models as article_models
from opsdesk.knowledge import models as knowledge_models
from opsdesk.knowledge import suggest_models
from opsdesk.notify import models as notify_models
from opsdesk.relations import models as relation_models
from opsdesk.reviews import major_models, status_models
from opsdesk.reviews import pir_models as review_models
from opsdesk.sla import models as sla_models

__all__ = [
    "Base",
    "alert_models",
    "article_models",
    "assignment_models",
    "auth_models",
    "catalog_models",
    "collaboration_models",
    "desk_models",
    "inbound_mail_models",
    "incident_models",
    "job_models",
    "knowledge_models",
    "major_models",
    "notify_models",
    "relation_models",
    "review_models",
    "sla_models",
    "status_models",
    "suggest_models",
]
