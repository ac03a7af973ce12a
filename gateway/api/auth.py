"""Who is calling: a bearer token (``dpgw serve``) or, behind API Gateway with IAM auth, the caller's ARN.

The ARN is read from the Lambda event only when the app was built for Lambda (``aws_principals``):
API Gateway put it there after verifying the caller's SigV4 signature. A plain HTTP server never
trusts anything but the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from gateway.errors import AuthenticationError, AuthorizationError
from gateway.service import Gateway
from gateway.team import Analysts


@dataclass(frozen=True)
class Caller:
    name: str
    operator: bool

    @property
    def scope(self) -> str | None:
        """The analyst whose submissions the caller may see; None: all (an operator)."""
        return None if self.operator else self.name


def gateway(request: Request) -> Gateway:
    """A gateway for this request (the factory decides whether it is shared)."""
    return request.app.state.gateway_factory()


GatewayDep = Annotated[Gateway, Depends(gateway)]


def caller(request: Request, gw: GatewayDep) -> Caller:
    analysts = Analysts(gw)
    if request.app.state.aws_principals:
        event: dict[str, Any] = request.scope.get("aws.event") or {}
        arn = ((event.get("requestContext") or {}).get("identity") or {}).get("userArn")
        if not arn:
            raise AuthenticationError("no AWS caller identity on this request; sign it with SigV4 (IAM auth)")
        analyst = analysts.by_principal(arn)
    else:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("no bearer token; set DPGW_TOKEN to the token an operator gave you")
        analyst = analysts.authenticate(token.strip())
    return Caller(analyst.name, analyst.is_operator)


CallerDep = Annotated[Caller, Depends(caller)]


def operator(who: CallerDep) -> Caller:
    if not who.operator:
        raise AuthorizationError("this route is for operators only")
    return who


OperatorDep = Annotated[Caller, Depends(operator)]
