"""Discovery documents of custom authorization servers."""

from __future__ import annotations


from .app_model import AUTH_METHODS, G_DEVICE, G_TOKEN_EXCHANGE
from .context import Ctx
from .errors import not_found


class DiscoveryMixin:
    """Discovery documents of custom authorization servers."""

    # -- discovery of custom authorization servers --------------------------------------

    def discovery(self, ctx: Ctx, as_id: str, kind: str):
        if not self.s.config["api_access_management"]:
            raise not_found(as_id, "AuthorizationServer")
        srv = self.s.find_as(as_id)
        if srv["status"] != "ACTIVE":
            raise not_found(as_id, "AuthorizationServer")
        iss = self.issuer(ctx, srv)
        scopes = sorted(s["name"] for s in srv["_scopes"].values()
                        if s["metadataPublish"] == "ALL_CLIENTS")
        doc = {
            "issuer": iss,
            "authorization_endpoint": iss + "/v1/authorize",
            "token_endpoint": iss + "/v1/token",
            "registration_endpoint": ctx.base + "/oauth2/v1/clients",
            "jwks_uri": iss + "/v1/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "code token",
                                         "id_token token", "code id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post", "okta_post_message"],
            "grant_types_supported": ["authorization_code", "implicit", "refresh_token",
                                      "password", "client_credentials", G_DEVICE,
                                      G_TOKEN_EXCHANGE],
            "subject_types_supported": ["public"],
            "scopes_supported": scopes,
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "claims_supported": ["ver", "jti", "iss", "aud", "iat", "exp", "cid", "uid", "scp",
                                 "sub"],
            "code_challenge_methods_supported": ["S256"],
            "introspection_endpoint": iss + "/v1/introspect",
            "revocation_endpoint": iss + "/v1/revoke",
            "end_session_endpoint": iss + "/v1/logout",
            "device_authorization_endpoint": iss + "/v1/device/authorize",
        }
        if kind == "openid-configuration":
            doc["userinfo_endpoint"] = iss + "/v1/userinfo"
            doc["id_token_signing_alg_values_supported"] = ["RS256"]
        return 200, [], doc
