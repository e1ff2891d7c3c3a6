"""Schemathesis against /openapi.json, as patient, doctor and a stranger: no 5xx, every response
matches its documented schema, and nothing of another pair's conversation ever comes back.

Bounded: FUZZ_EXAMPLES cases per operation and role (MEDTALK_FUZZ_EXAMPLES overrides).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from medtalk.core.auth import Role
from world import LiveServer, Person, World, start_server

FUZZ_EXAMPLES = int(os.environ.get("MEDTALK_FUZZ_EXAMPLES", "25"))
MARKER = f"MARKER-{uuid.uuid4().hex}"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# Ids the fuzzer may put where an id goes: someone else's objects, and the caller's own.
ID_FIELDS = ("conversation_id", "message_id", "file_id", "user_id")


@dataclass(frozen=True)
class Caller:
    id: uuid.UUID
    name: str
    role: Role


@dataclass
class Seeded:
    server: LiveServer
    people: dict[str, Caller]
    ids: dict[str, list[str]] = field(default_factory=dict)


async def seed(server: LiveServer) -> Seeded:
    async with World(server) as world:
        patient, doctor = await world.patient(), await world.doctor()
        stranger = await world.patient("Người lạ")
        # The pair whose data must never show up in anyone else's responses.
        victim, their_doctor = await world.patient(MARKER), await world.doctor("BS. Khác")
        theirs = await victim.opens_conversation_with(their_doctor, f"{MARKER} triệu chứng")
        secret_sent = await their_doctor.sends(theirs, f"{MARKER} chẩn đoán")
        secret_file = await victim.uploads(theirs, f"{MARKER}.pdf", PDF + MARKER.encode())
        # The marker is really there for those allowed to see it (so its absence means something).
        assert MARKER in str(await victim.history(theirs))
        own = await patient.opens_conversation_with(doctor, "xin chào")
        own_sent = await doctor.sends(own, "chào bạn")

        def caller(person: Person) -> Caller:
            return Caller(person.id, person.name, person.role)

        return Seeded(
            server,
            people={
                "patient": caller(patient),
                "doctor": caller(doctor),
                "stranger": caller(stranger),
            },
            ids={
                "conversation_id": [theirs, own],
                "message_id": [secret_sent["messageId"], own_sent["messageId"]],
                "file_id": [secret_file["fileId"]],
                "user_id": [str(victim.id), str(patient.id)],
            },
        )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    data_dir: Path = tmp_path_factory.mktemp("medtalk-fuzz")
    with start_server(data_dir, "", backend="sqlite") as server:
        yield asyncio.run(seed(server))


def operations(seeded: Seeded) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{seeded.server.base_url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def _aim_at_known_ids(case: Any, data: st.DataObject, ids: dict[str, list[str]]) -> None:
    """Half the time, point id parameters at real objects (others' and the caller's own)."""
    for name in ID_FIELDS:
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = data.draw(
                st.sampled_from([case.path_parameters[name], *ids[name]])
            )
    if isinstance(case.body, dict) and "conversationId" in case.body:
        case.body["conversationId"] = data.draw(
            st.sampled_from([case.body["conversationId"], *ids["conversation_id"]])
        )
    if isinstance(case.query, dict):
        for key, name in (("conversationId", "conversation_id"), ("userId", "user_id")):
            if key in case.query:
                case.query[key] = data.draw(st.sampled_from([case.query[key], *ids[name]]))


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
statuses: dict[int, int] = {}


def fuzz(seeded: Seeded, operation: Any, role: str, counts: dict[str, int]) -> None:
    """Run FUZZ_EXAMPLES generated cases of one operation as one role."""
    person = seeded.people[role]
    label = f"{role} {operation.label}"

    # Valid and deliberately invalid requests, mixed.
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @hypothesis.given(case=cases, data=st.data())
    @hypothesis.settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any, data: st.DataObject) -> None:
        _aim_at_known_ids(case, data, seeded.ids)
        # A fresh token per case: a fuzzed logout must not sign the role out for the rest.
        token = seeded.server.token(person.id, person.name, person.role)
        headers = {"Authorization": f"Bearer {token}"}
        response = case.call(base_url=seeded.server.base_url, headers=headers, timeout=10)
        counts[label] = counts.get(label, 0) + 1
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS)
        assert MARKER.encode() not in response.content, f"{label} leaked: {case.path}"

    run()


@pytest.mark.timeout(300)
def test_fuzz_every_operation_as_every_role(seeded: Seeded) -> None:
    counts: dict[str, int] = {}
    failures: list[str] = []
    for operation in operations(seeded):
        for role in seeded.people:
            try:
                fuzz(seeded, operation, role, counts)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report them all
                failures.append(f"{role} {operation.label}: {str(exc)[:1500]}")
    total = sum(counts.values())
    print(f"\nschemathesis: {total} cases over {len(counts)} operation x role pairs")
    print(f"schemathesis: statuses {dict(sorted(statuses.items()))}")
    assert not failures, "\n\n".join(failures)
    assert total >= 10 * len(counts)
