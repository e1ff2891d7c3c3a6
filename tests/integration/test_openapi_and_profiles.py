"""OpenAPI document and just-in-time user profiles."""

from __future__ import annotations

from medtalk.core.auth import Role
from world import World

SPEC_CHAT_PATHS = {
    "/api/v1/chat/conversations/create": "post",
    "/api/v1/chat/conversations": "get",
    "/api/v1/chat/conversations/{conversation_id}/messages": "get",
    "/api/v1/chat/messages/send": "post",
    "/api/v1/chat/messages/upload": "post",
}


async def test_openapi_lists_the_spec_paths(world: World) -> None:
    response = await world.http.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path, method in SPEC_CHAT_PATHS.items():
        assert method in paths[path], path
    send = paths["/api/v1/chat/messages/send"]["post"]
    assert "201" in send["responses"]


async def test_a_renamed_doctor_shows_the_new_name(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    renamed = world.server.token(doctor.id, "BS. Nguyễn Văn An (Nội khoa)", Role.DOCTOR)
    response = await world.http.get(
        "/api/v1/chat/conversations", headers={"Authorization": f"Bearer {renamed}"}
    )
    assert response.status_code == 200
    listed = await patient.conversations()
    assert listed["conversations"][0]["doctorName"] == "BS. Nguyễn Văn An (Nội khoa)"
    assert listed["conversations"][0]["id"] == conversation
