"""The incident's tasks and work orders as extra nodes of COC's ShowIncidentTask answer.

COC's ``GET /v2/incidents/{id}/tasks`` answers a list of workflow nodes (``CocTaskDetailV2``:
type, key, name, state, operations). The incident's own workflow node stays first and
unchanged; after it, for staff, come one node per task (``type`` ``IncidentTaskNode``) and
per work order (``WorkOrderNode``), with only the SDK's fields and no operations: a COC
client that takes the first node, or looks for an operation key, sees exactly what it saw
before; a client that knows these types reads their state.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.collaboration import tasks, work_orders
from opsdesk.collaboration.work_states import TaskStatus, WorkOrderStatus
from opsdesk.incidents.models import Incident

TASK_NODE = "IncidentTaskNode"
WORK_ORDER_NODE = "WorkOrderNode"

# COC's node states are "running" and "finished"; work not started yet is "waiting".
TASK_STATES = {
    TaskStatus.OPEN: "waiting",
    TaskStatus.IN_PROGRESS: "running",
    TaskStatus.DONE: "finished",
    TaskStatus.CANCELLED: "cancelled",
}
WORK_ORDER_STATES = {
    WorkOrderStatus.NEW: "waiting",
    WorkOrderStatus.SCHEDULED: "waiting",
    WorkOrderStatus.IN_PROGRESS: "running",
    WorkOrderStatus.DONE: "finished",
    WorkOrderStatus.FAILED: "failed",
}


async def work_nodes(
    *, session: AsyncSession, caller: Caller, incident: Incident
) -> list[dict[str, Any]]:
    """The task and work-order nodes of ``incident`` (already access-checked); none for
    end users, to whom this work is internal."""
    if not caller.is_staff:
        return []
    nodes: list[dict[str, Any]] = [
        {
            "type": TASK_NODE,
            "key": f"task-{task.id}",
            "name": f"Task #{task.id}: {task.title}",
            "state": TASK_STATES[TaskStatus(task.status)],
            "operations": [],
        }
        for task in await tasks.tasks_of(session, incident_id=incident.id)
    ]
    nodes += [
        {
            "type": WORK_ORDER_NODE,
            "key": f"work-order-{order.id}",
            "name": f"Work order #{order.id}: {order.title}",
            "state": WORK_ORDER_STATES[WorkOrderStatus(order.status)],
            "operations": [],
        }
        for order in await work_orders.work_orders_of(session, incident_id=incident.id)
    ]
    return nodes
