"""The one exception tree of meshforge.

Every error a user can see is a :class:`MeshforgeError`. Its ``detail`` is a
sentence that says what failed, why, and what to do next. The HTTP API maps
``status`` to the response code and ``extra`` to additional JSON keys; the CLI
maps ``exit_code`` to the process exit status.
"""

from __future__ import annotations

from typing import Any, ClassVar


class MeshforgeError(Exception):
    """Base of every error meshforge reports to a person or a client."""

    status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "detail": self.detail}
        body["title"] = self.title
        body.update(self.extra)
        return body


# --- configuration -------------------------------------------------------


class ConfigError(MeshforgeError):
    """The configuration is invalid or incomplete."""

    exit_code = 78  # EX_CONFIG


# --- requests a client sent ----------------------------------------------


class BadRequest(MeshforgeError):
    """The request names something this server does not offer (asu: 400)."""

    status = 400
    exit_code = 64  # EX_USAGE; 2 stays click's own usage error
    title = "Bad Request"


class NotFound(MeshforgeError):
    status = 404
    exit_code = 66  # EX_NOINPUT
    title = "Not Found"


class UnprocessableRequest(MeshforgeError):
    """The request is well-formed JSON but cannot be built (422)."""

    status = 422
    exit_code = 65  # EX_DATAERR
    title = "Unprocessable Request"


class ResolutionError(UnprocessableRequest):
    """Package resolution failed: names missing or in conflict.

    ``extra`` carries ``missing`` (list of names) and ``conflicts`` (list of
    ``[a, b]`` pairs) for machines; ``detail`` says how to fix it.
    """


class Overloaded(MeshforgeError):
    status = 529
    exit_code = 75  # EX_TEMPFAIL
    title = "Server overloaded"


# --- upstream metadata ---------------------------------------------------


class UpstreamError(MeshforgeError):
    """Fetching or reading the upstream download site failed."""

    status = 502
    exit_code = 3
    title = "Bad Gateway"


class SignatureError(UpstreamError):
    """A signature did not verify, or no trusted key matched it."""

    exit_code = 4


class FormatError(UpstreamError):
    """An upstream file or a tool's output has a shape we do not know."""

    exit_code = 5


class IndexMissing(BadRequest):
    """The release is listed but its package index is not available."""


# --- builds --------------------------------------------------------------


class BuildError(MeshforgeError):
    """A build failed.

    ``permanent`` says whether the same request can ever succeed: permanent
    failures are cached for the failure TTL, transient ones never are.
    """

    exit_code = 6

    def __init__(self, detail: str, *, permanent: bool = True, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.permanent = permanent


class UnsafeArchive(BuildError):
    """An ImageBuilder archive holds a member that would escape its folder."""


class BuildTimeout(BuildError):
    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail, permanent=False, **extra)


# --- LibreNet6 -----------------------------------------------------------


class Net6Error(MeshforgeError):
    """Base of LibreNet6 broker and gateway errors."""

    status = 400
    exit_code = 7
    title = "Bad Request"


class PoolExhausted(Net6Error):
    status = 409
    title = "Conflict"


class InvitationError(Net6Error):
    status = 403
    title = "Forbidden"


class Net6Unauthorized(InvitationError):
    """No or an unknown operator/gateway token was sent to the broker."""

    status = 401
    title = "Unauthorized"


class Net6Busy(Net6Error):
    """The broker's database stayed locked by other writers; try again."""

    status = 503
    exit_code = 75  # EX_TEMPFAIL
    title = "Service Unavailable"


# --- router-side client --------------------------------------------------


class ClientError(MeshforgeError):
    """The router-side client could not complete an upgrade step."""

    exit_code = 8


class VerificationError(ClientError):
    """A downloaded image does not match its size or checksum."""

    exit_code = 9


class RouterStateError(ClientError):
    """The release, board or package list of the device cannot be read."""

    exit_code = 11


class RequestRejected(ClientError):
    """The server refused the request (4xx); its sentence says why."""

    exit_code = 12


class ServerUnavailable(ClientError):
    """The server cannot be reached, is overloaded, or did not answer in time."""

    exit_code = 13


class RemoteBuildFailed(ClientError):
    """The server tried to build the image and the build failed."""

    exit_code = 14


class NoMatchingImage(ClientError):
    """The build has no image of the type and filesystem the device runs."""

    exit_code = 15


class InstallFailed(ClientError):
    """sysupgrade refused the image or could not be started."""

    exit_code = 16
