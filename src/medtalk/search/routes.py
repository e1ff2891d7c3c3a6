"""REST for search: GET /api/v1/chat/search?q=...&conversationId=... (the caller's only)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from medtalk.api.deps import AuditTrailDep, ChatDep, Context, DatabaseDep
from medtalk.search.service import SearchPage, SearchService

router = APIRouter(prefix="/api/v1/chat", tags=["search"])


def _search(
    request: Request, db: DatabaseDep, chat: ChatDep, trail: AuditTrailDep
) -> SearchService:
    keys: Any = request.app.state.container.keys
    return SearchService(db, keys, chat, trail)


@router.get("/search", response_model=SearchPage)
async def search_messages(
    context: Context,
    search: Annotated[SearchService, Depends(_search)],
    q: Annotated[str, Query(min_length=1, max_length=200, description="words to find")],
    conversation_id: Annotated[uuid.UUID | None, Query(alias="conversationId")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="nextCursor")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> SearchPage:
    """Messages of the caller's conversations (or of `conversationId`) that contain every
    word of `q`, diacritics and case ignored ("sot" finds "sốt"); newest first."""
    return await search.search(context, q, conversation_id, cursor, limit)
