"""Destinations, managed by admins. Secrets go in once and are never shown again."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminUser, SessionDep, SettingsDep, StaffUser
from api.errors import errors_doc
from api.schemas import Input
from dictation.publish import destinations

router = APIRouter(prefix="/destinations", tags=["publishing"])


class DestinationIn(Input):
    one_line = frozenset({"name", "kind", "url", "user"})
    kept_as_sent = frozenset({"secret"})

    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(description="blog, wordpress, ghost, micropub or webhook")
    url: str | None = Field(None, max_length=500)
    user: str | None = Field(None, max_length=200, description="WordPress user name")
    secret: str | None = Field(
        None,
        max_length=4_000,
        description="Application password, Ghost admin key, Micropub token or "
        "webhook signing secret; stored encrypted, never shown again",
    )
    default: bool = False
    attach_audio: bool = Field(False, description="Attach the memo's audio to the post")


class DestinationOut(BaseModel):
    id: int
    name: str
    kind: str
    url: str | None
    user: str | None
    has_secret: bool
    default: bool


@router.get("", response_model=list[DestinationOut], responses=errors_doc(401, 403))
def list_destinations(user: StaffUser, session: SessionDep) -> list[DestinationOut]:
    return [DestinationOut(**destinations.describe(row)) for row in destinations.list_destinations(session)]


@router.post("", status_code=201, response_model=DestinationOut, responses=errors_doc(401, 403, 409, 422))
def add_destination(body: DestinationIn, user: AdminUser, session: SessionDep,
                    settings: SettingsDep) -> DestinationOut:
    row = destinations.add_destination(
        session, settings, body.name, body.kind, url=body.url, user=body.user, secret=body.secret,
        default=body.default, options={"attach_audio": body.attach_audio},
    )
    return DestinationOut(**destinations.describe(row))


class DestinationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: bool | None = Field(None, description="true makes this the default destination")


@router.patch("/{name_or_id}", response_model=DestinationOut, responses=errors_doc(401, 403, 404, 422),
              summary="Make a destination the default (admin)")
def update_destination(name_or_id: str, body: DestinationPatch, user: AdminUser,
                       session: SessionDep) -> DestinationOut:
    return DestinationOut(**destinations.describe(destinations.update_destination(session, name_or_id, body.default)))


@router.delete("/{name_or_id}", status_code=204, responses=errors_doc(401, 403, 404, 409))
def delete_destination(name_or_id: str, user: AdminUser, session: SessionDep) -> Response:
    destinations.delete_destination(session, name_or_id)
    return Response(status_code=204)
