"""The read-only budget dashboard at ``/``, for people in a browser.

Same identities as the API: a bearer token (header, or the ``dpgw_token`` cookie that ``/login``
sets from a token typed into a form), or the IAM caller behind API Gateway. An analyst sees block
budgets (public) and their own queries; an operator sees every query. The cookie is HttpOnly and
SameSite=Strict and is honoured only by these pages, never by the JSON API (no cross-site writes).
"""

from __future__ import annotations

import urllib.parse

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.api.auth import GatewayDep, caller
from gateway.dashboard import html
from gateway.errors import AuthenticationError, AuthorizationError
from gateway.team import Analysts

COOKIE = "dpgw_token"
LOGIN = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dp-gateway: sign in</title>
<style>body{font:14px system-ui,sans-serif;margin:48px}input{width:36em;padding:4px}</style></head><body>
<h1>dp-gateway</h1><p>{message}</p>
<form method="post" action="/login"><label>Token <input type="password" name="token" autocomplete="off"></label>
<button type="submit">Sign in</button></form></body></html>"""

pages = APIRouter(include_in_schema=False)


def _login_page(message: str, status: int) -> HTMLResponse:
    return HTMLResponse(LOGIN.replace("{message}", message), status_code=status)


@pages.get("/", response_class=HTMLResponse)
def dashboard(request: Request, gw: GatewayDep) -> Response:
    try:
        if not request.headers.get("authorization") and request.cookies.get(COOKIE):
            who = Analysts(gw).authenticate(request.cookies[COOKIE])
            name, operator = who.name, who.is_operator
        else:
            found = caller(request, gw)
            name, operator = found.name, found.operator
    except (AuthenticationError, AuthorizationError):
        return _login_page("Sign in with the token an operator gave you (dpgw analysts add).", 401)
    page = html.render(gw.dashboard(None if operator else name))
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@pages.post("/login")
async def login(request: Request, gw: GatewayDep) -> Response:
    form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    try:
        Analysts(gw).authenticate(token)
    except AuthenticationError:
        return _login_page("That token is not valid (unknown or revoked).", 401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
    return response


@pages.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
