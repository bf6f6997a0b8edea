"""The light screening of a business under ``integriteitstoets_zakelijke_relaties``.

The officer enters a KvK number or vestigingsnummer, the contract value and type, and whether
there is political or administrative risk. The page gives the tier and advice (``web.screening``),
the enterprise and its establishments, the signals at their addresses with enforcement history and
churn. Behind it are a hit and a detail request through ``privacy.lookup``, both logged, the
detail with the tier and advice; the one-page result downloads as HTML for the file.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from web.app import ctx, form_of, render, require
from web.lookups import UNKNOWN_MESSAGE
from web.routes_lookup import RATE_MESSAGE, _answer, _rate_limited, _state, service
from web.screening import PURPOSE, RELATIONS, advice, euros, load_tiers, tier_for
from web.validation import InvalidInput, parse_case, parse_target

router = APIRouter()
EXPORT_CSS = Path(__file__).parent / "static" / "screening-export.css"
ROLES = ("bibob_officer",)
VALUE = re.compile(r"^\d{1,12}$")


def _page(request: Request, status_code: int = 200, **extra) -> Response:
    session = require(request, *ROLES)
    state = _state(request, session)
    form = extra.pop("form", None) or {"zaak": state.case, "soort": "kvk"}
    return render(
        request,
        "screening_form.html",
        status_code=status_code,
        form=form,
        relations=RELATIONS,
        tiers=load_tiers(),
        euros=euros,
        **extra,
    )


@router.get("/screening")
async def screening_form(request: Request) -> Response:
    return _page(request)


@router.post("/screening")
async def screening(request: Request) -> Response:
    session = require(request, *ROLES)
    form = await form_of(request)
    try:
        if form.get("soort") not in ("kvk", "vestiging"):
            raise InvalidInput("soort", "Kies of u een KvK-nummer of een vestigingsnummer invult.")
        target = parse_target(form)
        case = parse_case(form)
        value_text = form.get("waarde", "").replace(".", "").replace(" ", "").replace("€", "")
        if not VALUE.match(value_text):
            raise InvalidInput(
                "waarde", "Vul de waarde van de relatie in hele euro's in, bijvoorbeeld 75000."
            )
        relation = form.get("relatie", "")
        if relation not in RELATIONS:
            raise InvalidInput("relatie", "Kies het soort relatie.")
    except InvalidInput as exc:
        ctx(request).events.record("invalid_input", session.user_id, f"veld {exc.field}")
        return _page(request, 400, error=exc.message, error_field=exc.field, form=form)
    _state(request, session).case = case
    if _rate_limited(request, session):
        return _page(request, 429, error=RATE_MESSAGE, form=form)
    risk = form.get("risico") == "ja"
    tier = tier_for(int(value_text), risk, load_tiers())
    svc = service(request)
    user, role = session.user_id or "", session.role or ""
    hit = await run_in_threadpool(svc.hit, user, role, PURPOSE, case, target)
    if hit.refused:
        return _page(request, 403, error=hit.refused, refused=True, form=form, error_field="zaak")
    context = {
        "target_label": hit.target_label,
        "value": euros(int(value_text)),
        "relation": RELATIONS[relation],
        "risk": risk,
        "tier": tier,
        "case": case,
        "when": dt.datetime.now(dt.UTC),
        "outcome": hit,
        "unknown_message": UNKNOWN_MESSAGE,
    }
    if hit.known:
        logged = {"tier": tier.key, "waarde_eur": int(value_text), "relatie": relation, "risico": risk}
        detail = await run_in_threadpool(svc.detail, user, role, hit.request_id, {"screening": logged})
        if detail.refused:
            return _page(request, 403, error=detail.refused, refused=True, form=form)
        cards = detail.cards
        context |= {
            "establishments": detail.result.establishments,
            "cards": cards,
            "enforcement": [c for c in cards if c.flag == "enforcement_history"],
            "churn": [c for c in cards if c.flag == "company_churn"],
            "advice": advice(tier, len(cards)),
        }
    return _answer(request, session, f"screening-{hit.request_id}", "screening.html", **context)


@router.get("/screening/{key}/html")
async def screening_download(request: Request, key: str) -> Response:
    """The one-page result as a self-contained HTML file for the file (print it to PDF if needed)."""
    session = require(request, *ROLES)
    kept = _state(request, session).answers.get(key[:80])
    if kept is None or kept[0] != "screening.html":
        return _page(request, 404, error="Deze screening is niet meer beschikbaar. Voer haar opnieuw uit.")
    body = ctx(request).templates.get_template("screening_export.html").render(**kept[1])
    # A file for the dossier, read without the server: its style goes inside it.
    body = body.replace("</head>", f"<style>\n{EXPORT_CSS.read_text(encoding='utf-8')}</style>\n</head>", 1)
    name = f"screening-{kept[1]['case'] or 'zonder-zaak'}-{dt.date.today().isoformat()}.html"
    return Response(
        body.encode("utf-8"),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
