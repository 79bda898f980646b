"""COC's ShowIncidentTask with tasks and work orders: extra nodes a COC client can ignore."""

from __future__ import annotations

import httpx

from tests.api.test_coc_api import coc
from tests.api.test_coc_contract import model_problems
from tests.api.test_collaboration import reported_by
from tests.api.test_tasks import add_task
from tests.api.test_work_orders import add_order, make_group, patch
from tests.factories import Desk


async def test_the_workflow_node_stays_first_and_work_follows_without_operations(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    await make_group(client, desk, "field", [desk.tech2.id], work_orders=True)
    number = await reported_by(client, desk)
    before = await coc(client, desk.tech, "GET", f"/v2/incidents/{number}/tasks")
    task = await add_task(client, desk.tech, number, title="Call the vendor")
    order = await add_order(client, desk.tech, number, title="Swap the PSU")
    assert (await patch(client, desk.tech2, order["id"], status="in_progress")).status_code == 200

    answer = await coc(client, desk.tech, "GET", f"/v2/incidents/{number}/tasks")
    assert model_problems(answer, "ShowIncidentTaskResponse", "") == []
    workflow, *work = answer["data"]
    # The incident's own node is unchanged but for the task id, which follows the version.
    assert {k: v for k, v in workflow.items() if k != "operations"} == {
        k: v for k, v in before["data"][0].items() if k != "operations"
    }
    assert [op["key"] for op in workflow["operations"]] == [
        op["key"] for op in before["data"][0]["operations"]
    ]
    assert work == [
        {
            "type": "IncidentTaskNode",
            "key": f"task-{task['id']}",
            "name": f"Task #{task['id']}: Call the vendor",
            "state": "waiting",
            "operations": [],
        },
        {
            "type": "WorkOrderNode",
            "key": f"work-order-{order['id']}",
            "name": f"Work order #{order['id']}: Swap the PSU",
            "state": "running",
            "operations": [],
        },
    ]
    # A client that acts on the first node's operation still works.
    accept = next(op for op in workflow["operations"] if op["key"] == "accepted")
    await coc(
        client,
        desk.tech,
        "POST",
        f"/v2/incidents/{number}/actions",
        {"task_id": accept["task_id"], "action": "accepted", "params": {}},
    )
    # The reporter sees only the workflow: the work is internal.
    mine = await coc(client, desk.user, "GET", f"/v2/incidents/{number}/tasks")
    assert len(mine["data"]) == 1


async def test_commit_solution_through_coc_needs_the_override_while_work_is_open(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    await make_group(client, desk, "field", [desk.tech2.id], work_orders=True)
    number = await reported_by(client, desk)
    await add_order(client, desk.tech, number, title="Swap the PSU")

    async def act(key: str, params: dict[str, object], status: int = 200) -> dict[str, object]:
        nodes = (await coc(client, desk.tech, "GET", f"/v2/incidents/{number}/tasks"))["data"]
        task_id = nodes[0]["operations"][0]["task_id"]
        return await coc(
            client,
            desk.tech,
            "POST",
            f"/v2/incidents/{number}/actions",
            {"task_id": task_id, "action": key, "params": params},
            status=status,
        )

    await act("accepted", {})
    solution = {
        "cause": "Failed PSU",
        "solution": "Running on the second PSU",
        "mtm_type": "inc_type_p_function_issues",
    }
    refused = await act("commitSolution", solution, status=400)
    assert "override_open_work" in str(refused["error_msg"])
    await act("commitSolution", {**solution, "override_open_work": True})
    history = await client.get(f"/api/v1/incidents/{number}/history", headers=desk.tech.headers)
    assert any(
        "Resolved with 1 open work order (override)." in row["comment"] for row in history.json()
    )
