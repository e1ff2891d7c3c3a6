"""Dev only: the demo doctor's and patient's tokens for the sign-in picker of embedded mode."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Response

from medtalk.api.deps import ChatDep, SettingsDep, UsersDep
from medtalk.core.wire import WireModel
from medtalk.demo import DEMO_DOCTOR, DEMO_PATIENT, demo_accounts
from medtalk.settings import Settings


class DemoAccount(WireModel):
    user_id: str
    name: str
    role: str
    token: str


class DemoAccounts(WireModel):
    accounts: list[DemoAccount]
    conversation_id: str


router = APIRouter(prefix="/api/v1/dev", tags=["dev"])


@router.get("/demo-accounts", response_model=DemoAccounts)
async def get_demo_accounts(
    settings: SettingsDep, users: UsersDep, chat: ChatDep, response: Response
) -> DemoAccounts:
    """The seeded demo doctor and patient with fresh tokens (never registered in production)."""
    response.headers["Cache-Control"] = "no-store"
    seeded = await demo_accounts(settings, users, chat)
    return DemoAccounts(
        accounts=[
            DemoAccount(
                user_id=str(DEMO_DOCTOR.user_id),
                name=DEMO_DOCTOR.name,
                role=DEMO_DOCTOR.role.value,
                token=seeded.doctor_token,
            ),
            DemoAccount(
                user_id=str(DEMO_PATIENT.user_id),
                name=DEMO_PATIENT.name,
                role=DEMO_PATIENT.role.value,
                token=seeded.patient_token,
            ),
        ],
        conversation_id=str(seeded.conversation_id),
    )


def install_demo_accounts(api: FastAPI, settings: Settings) -> None:
    """Register the endpoint only on embedded defaults with demo accounts on (`serve --demo`)."""
    if settings.mode == "dev" and settings.demo_accounts:
        api.include_router(router)
