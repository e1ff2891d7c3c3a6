"""Every SQL statement of notifications: subscriptions, preferences, digests, escalations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.db.tables import (
    chat_messages,
    conversations,
    email_digests,
    notification_escalations,
    notification_preferences,
    push_subscriptions,
    users,
)
from medtalk.notifications.preferences import Preferences
from medtalk.notifications.webpush import PushTarget


def _insert(db: AsyncConnection, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    if db.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# --- push subscriptions ------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    id: uuid.UUID
    user_id: uuid.UUID
    target: PushTarget


async def save_subscription(
    db: AsyncConnection, user_id: uuid.UUID, target: PushTarget, now: datetime
) -> uuid.UUID:
    """Store the browser's subscription for `user_id` (a browser signed in by someone else
    before now belongs to this user: one endpoint, one owner)."""
    insert = _insert(db, push_subscriptions).values(
        id=uuid.uuid4(),
        user_id=user_id,
        endpoint=target.endpoint,
        p256dh=target.p256dh,
        auth=target.auth,
        created_at=now,
    )
    await db.execute(
        insert.on_conflict_do_update(
            index_elements=["endpoint"],
            set_={"user_id": user_id, "p256dh": target.p256dh, "auth": target.auth},
        )
    )
    query = sa.select(push_subscriptions.c.id).where(
        push_subscriptions.c.endpoint == target.endpoint
    )
    return uuid.UUID(str((await db.execute(query)).scalar_one()))


async def delete_subscription(db: AsyncConnection, user_id: uuid.UUID, endpoint: str) -> bool:
    result = await db.execute(
        push_subscriptions.delete().where(
            push_subscriptions.c.user_id == user_id, push_subscriptions.c.endpoint == endpoint
        )
    )
    return bool(result.rowcount)


async def forget_subscription(db: AsyncConnection, subscription_id: uuid.UUID) -> None:
    """The push service said it is gone."""
    await db.execute(push_subscriptions.delete().where(push_subscriptions.c.id == subscription_id))


async def subscriptions_of(db: AsyncConnection, user_id: uuid.UUID) -> list[Subscription]:
    query = sa.select(push_subscriptions).where(push_subscriptions.c.user_id == user_id)
    return [
        Subscription(row.id, row.user_id, PushTarget(row.endpoint, row.p256dh, row.auth))
        for row in await db.execute(query)
    ]


# --- preferences -------------------------------------------------------------------------


async def preferences(db: AsyncConnection, user_id: uuid.UUID) -> Preferences:
    query = sa.select(notification_preferences).where(notification_preferences.c.user_id == user_id)
    row = (await db.execute(query)).first()
    if row is None:
        return Preferences()
    return Preferences(
        push=row.push,
        email_digest=row.email_digest,
        email=row.email,
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        time_zone=row.time_zone,
    )


async def save_preferences(
    db: AsyncConnection, user_id: uuid.UUID, wanted: Preferences, now: datetime
) -> None:
    values = {
        "push": wanted.push,
        "email_digest": wanted.email_digest,
        "email": wanted.email,
        "quiet_start": wanted.quiet_start,
        "quiet_end": wanted.quiet_end,
        "time_zone": wanted.time_zone,
        "updated_at": now,
    }
    insert = _insert(db, notification_preferences).values(user_id=user_id, **values)
    await db.execute(insert.on_conflict_do_update(index_elements=["user_id"], set_=values))


# --- who, for the notification's text -----------------------------------------------------


async def counterpart_name(
    db: AsyncConnection, conversation_id: uuid.UUID, user_id: uuid.UUID
) -> str:
    """The display name of the other participant of the conversation ("" if unknown)."""
    conversation = (
        await db.execute(
            sa.select(conversations.c.user_id, conversations.c.doctor_id).where(
                conversations.c.id == conversation_id
            )
        )
    ).first()
    if conversation is None:
        return ""
    other = conversation.doctor_id if conversation.user_id == user_id else conversation.user_id
    return await user_name(db, other)


async def user_name(db: AsyncConnection, user_id: uuid.UUID) -> str:
    found = (await db.execute(sa.select(users.c.name).where(users.c.id == user_id))).scalar()
    return str(found or "")


# --- email digests -----------------------------------------------------------------------


async def schedule_digest(db: AsyncConnection, user_id: uuid.UUID, due_at: datetime) -> bool:
    """True if this call scheduled the user's digest of that window (False: already was)."""
    insert = _insert(db, email_digests).values(user_id=user_id, due_at=due_at)
    result = await db.execute(insert.on_conflict_do_nothing())
    return bool(result.rowcount)


async def unread_for(db: AsyncConnection, user_id: uuid.UUID) -> tuple[int, int]:
    """(unread messages, conversations they are in) for the user, across ACTIVE conversations."""
    query = (
        sa.select(sa.func.count(), sa.func.count(sa.distinct(chat_messages.c.conversation_id)))
        .select_from(chat_messages.join(conversations))
        .where(
            sa.or_(conversations.c.user_id == user_id, conversations.c.doctor_id == user_id),
            conversations.c.status == "ACTIVE",
            chat_messages.c.sender_id != user_id,
            chat_messages.c.is_read.is_(False),
        )
    )
    messages, in_conversations = (await db.execute(query)).one()
    return int(messages), int(in_conversations)


# --- escalation --------------------------------------------------------------------------

UNREAD_PATIENT = sa.and_(
    chat_messages.c.is_read.is_(False),
    chat_messages.c.sender_type == "PATIENT",
    conversations.c.status == "ACTIVE",
)


@dataclass(frozen=True)
class Waiting:
    """The oldest unread patient message of a conversation."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    sent_at: datetime
    patient_id: uuid.UUID
    doctor_id: uuid.UUID


async def oldest_waiting(db: AsyncConnection, sent_before: datetime) -> list[Waiting]:
    """Per ACTIVE conversation, its oldest unread patient message, if sent before the time."""
    oldest = (
        sa.select(chat_messages.c.conversation_id, sa.func.min(chat_messages.c.seq).label("seq"))
        .select_from(chat_messages.join(conversations))
        .where(UNREAD_PATIENT)
        .group_by(chat_messages.c.conversation_id)
        .subquery()
    )
    query = (
        sa.select(
            chat_messages.c.id,
            chat_messages.c.conversation_id,
            chat_messages.c.sent_at,
            conversations.c.user_id,
            conversations.c.doctor_id,
        )
        .select_from(
            oldest.join(
                chat_messages,
                sa.and_(
                    chat_messages.c.conversation_id == oldest.c.conversation_id,
                    chat_messages.c.seq == oldest.c.seq,
                ),
            ).join(conversations, conversations.c.id == oldest.c.conversation_id)
        )
        .where(chat_messages.c.sent_at <= sent_before)
    )
    return [Waiting(*row) for row in await db.execute(query)]


async def unanswered_by_age(
    db: AsyncConnection, buckets: list[tuple[str, datetime, datetime | None]]
) -> dict[str, int]:
    """Unread patient messages of ACTIVE conversations per age bucket: (label, sent at or
    before, sent after (None: any time before))."""
    counts = []
    for _, newest, oldest in buckets:
        inside = chat_messages.c.sent_at <= newest
        if oldest is not None:
            inside = sa.and_(inside, chat_messages.c.sent_at > oldest)
        counts.append(sa.func.coalesce(sa.func.sum(sa.case((inside, 1), else_=0)), 0))
    query = sa.select(*counts).select_from(chat_messages.join(conversations)).where(UNREAD_PATIENT)
    row = (await db.execute(query)).one()
    return {label: int(value) for (label, _, _), value in zip(buckets, row, strict=True)}


async def still_unread(db: AsyncConnection, message_id: uuid.UUID) -> bool:
    query = sa.select(chat_messages.c.is_read).where(chat_messages.c.id == message_id)
    found = (await db.execute(query)).scalar()
    return found is False


async def mark_escalated(
    db: AsyncConnection, waiting: Waiting, threshold_minutes: int, now: datetime
) -> bool:
    """True if this is the first escalation of the message at this threshold."""
    insert = _insert(db, notification_escalations).values(
        message_id=waiting.message_id,
        threshold_minutes=threshold_minutes,
        conversation_id=waiting.conversation_id,
        escalated_at=now,
    )
    result = await db.execute(insert.on_conflict_do_nothing())
    return bool(result.rowcount)
