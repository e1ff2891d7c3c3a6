"""Typed FastAPI dependencies: one per service (`ChatDep`, `CallsDep`, ...) and `CurrentUser`.

Each reads the process's container from `app.state.container` (set by app.py); routes name the
services they use and never see the container itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from medtalk.audit import AuditTrail, Client, RequestContext
from medtalk.calls.service import CallService
from medtalk.chat.service import ChatService
from medtalk.core.auth import Principal, TokenVerifier
from medtalk.core.clock import Clock
from medtalk.core.logging import update_context
from medtalk.db.engine import Database
from medtalk.files.downloads import FileDownloads
from medtalk.files.service import FileService
from medtalk.files.storage import FileStorage
from medtalk.privacy.export import DataExport
from medtalk.realtime.presence import Presence
from medtalk.recordings.downloads import RecordingDownloads
from medtalk.recordings.uploads import RecordingUploads
from medtalk.sessions import RevocationList
from medtalk.settings import Settings
from medtalk.users.service import UserDirectory

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <JWT>")


def _container(request: Request) -> Any:
    return request.app.state.container


def get_settings(request: Request) -> Settings:
    settings: Settings = _container(request).settings
    return settings


def get_clock(request: Request) -> Clock:
    clock: Clock = _container(request).clock
    return clock


def get_db(request: Request) -> Database:
    db: Database = _container(request).db
    return db


def get_storage(request: Request) -> FileStorage:
    storage: FileStorage = _container(request).storage
    return storage


def get_users(request: Request) -> UserDirectory:
    users: UserDirectory = _container(request).users
    return users


def get_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = _container(request).verifier
    return verifier


def get_revocations(request: Request) -> RevocationList:
    revocations: RevocationList = _container(request).revocations
    return revocations


def get_audit_trail(request: Request) -> AuditTrail:
    audit: AuditTrail = _container(request).audit
    return audit


def get_chat(request: Request) -> ChatService:
    chat: ChatService = _container(request).chat
    return chat


def get_export(request: Request) -> DataExport:
    export: DataExport = _container(request).export
    return export


def get_presence(request: Request) -> Presence:
    presence: Presence = _container(request).presence
    return presence


def get_files(request: Request) -> FileService:
    files: FileService = _container(request).files
    return files


def get_file_downloads(request: Request) -> FileDownloads:
    downloads: FileDownloads = _container(request).file_downloads
    return downloads


def get_calls(request: Request) -> CallService:
    calls: CallService = _container(request).calls
    return calls


def get_recording_uploads(request: Request) -> RecordingUploads:
    uploads: RecordingUploads = _container(request).recording_uploads
    return uploads


def get_recording_downloads(request: Request) -> RecordingDownloads:
    downloads: RecordingDownloads = _container(request).recording_downloads
    return downloads


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
DatabaseDep = Annotated[Database, Depends(get_db)]
StorageDep = Annotated[FileStorage, Depends(get_storage)]
UsersDep = Annotated[UserDirectory, Depends(get_users)]
RevocationsDep = Annotated[RevocationList, Depends(get_revocations)]
AuditTrailDep = Annotated[AuditTrail, Depends(get_audit_trail)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
ExportDep = Annotated[DataExport, Depends(get_export)]
PresenceDep = Annotated[Presence, Depends(get_presence)]
FilesDep = Annotated[FileService, Depends(get_files)]
FileDownloadsDep = Annotated[FileDownloads, Depends(get_file_downloads)]
CallsDep = Annotated[CallService, Depends(get_calls)]
RecordingUploadsDep = Annotated[RecordingUploads, Depends(get_recording_uploads)]
RecordingDownloadsDep = Annotated[RecordingDownloads, Depends(get_recording_downloads)]

BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """Verify the bearer token and provision its user; Unauthorized (401) otherwise."""
    token = credentials.credentials if credentials else None  # HTTPBearer took the scheme off
    principal = await get_verifier(request).verify_bearer(token)
    await get_users(request).ensure(principal)
    update_context(user_id=str(principal.user_id))
    return principal


async def current_user(request: Request, credentials: BearerCredentials) -> Principal:
    principal = await authenticate(request, credentials)
    request.state.principal = principal  # names the caller in audit rows of refusals
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


def client_of(request: Request) -> Client:
    """Peer address (uvicorn puts the X-Forwarded-For address here for trusted proxies)."""
    host = request.client.host if request.client else None
    return Client(ip=host, user_agent=request.headers.get("user-agent"))


async def request_context(request: Request, caller: CurrentUser) -> RequestContext:
    return RequestContext(caller, client_of(request))


# The caller and their client, for a service method that changes state and audits it.
Context = Annotated[RequestContext, Depends(request_context)]
