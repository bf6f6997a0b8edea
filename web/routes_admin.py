"""Administrator: local accounts (add with a one-time generated password, block, unblock, change
the role, reset the password). A block, role change or reset ends the account's sessions at once;
a generated password must be changed at the first sign-in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from web.accounts import ROLES, AccountError, generate_password
from web.app import ctx, form_of, render, require

router = APIRouter()


def _page(request: Request, status_code: int = 200, **extra) -> Response:
    return render(
        request,
        "beheer.html",
        status_code=status_code,
        accounts=ctx(request).accounts.all(),
        roles=ROLES,
        **extra,
    )


@router.get("/beheer")
async def accounts_page(request: Request) -> Response:
    require(request, "admin")
    return _page(request)


@router.post("/beheer/account")
async def add_account(request: Request) -> Response:
    session = require(request, "admin")
    form = await form_of(request)
    password = generate_password()
    user_id = form.get("gebruiker", "").strip().lower()
    try:
        ctx(request).accounts.add(
            user_id,
            form.get("rol", ""),
            password,
            form.get("naam", "").strip()[:80],
            form.get("team", "").strip()[:80],
            one_time=True,
        )
    except AccountError as exc:
        return _page(request, 400, error=str(exc))
    ctx(request).events.record("account_created", session.user_id, user_id)
    return _page(request, created=(user_id, password))


@router.post("/beheer/status")
async def set_status(request: Request) -> Response:
    session = require(request, "admin")
    form = await form_of(request)
    user_id = form.get("gebruiker", "")
    active = form.get("actief") == "1"
    if user_id == session.user_id:
        return _page(request, 400, error="U kunt uw eigen account niet blokkeren.")
    try:
        ctx(request).accounts.set_active(user_id, active)
    except AccountError as exc:
        return _page(request, 400, error=str(exc))
    ctx(request).sessions.end_user(user_id)
    ctx(request).events.record("account_unblocked" if active else "account_blocked", session.user_id, user_id)
    return _page(request, notice=f"Account {user_id} is {'vrijgegeven' if active else 'geblokkeerd'}.")


@router.post("/beheer/rol")
async def set_role(request: Request) -> Response:
    session = require(request, "admin")
    form = await form_of(request)
    user_id, role = form.get("gebruiker", ""), form.get("rol", "")
    if user_id == session.user_id:
        return _page(request, 400, error="U kunt uw eigen rol niet wijzigen.")
    try:
        ctx(request).accounts.set_role(user_id, role)
    except AccountError as exc:
        return _page(request, 400, error=str(exc))
    ctx(request).sessions.end_user(user_id)
    ctx(request).events.record("role_changed", session.user_id, f"{user_id}: {role}")
    notice = f"Account {user_id} heeft nu de rol {ROLES[role]}; de lopende sessies zijn beëindigd."
    return _page(request, notice=notice)


@router.post("/beheer/wachtwoord")
async def reset_password(request: Request) -> Response:
    session = require(request, "admin")
    form = await form_of(request)
    user_id = form.get("gebruiker", "")
    password = generate_password()
    try:
        ctx(request).accounts.set_password(user_id, password, one_time=True)
    except AccountError as exc:
        return _page(request, 400, error=str(exc))
    ctx(request).sessions.end_user(user_id)
    ctx(request).events.record("password_reset", session.user_id, user_id)
    return _page(request, reset=(user_id, password))
