"""The handler contract every service follows (docs/adr/0012-handler-contract.md).

A handler is a plain async function::

    async def accept_referral(cmd: AcceptReferral, uow: ReferralUnitOfWork, clock: Clock) -> Referral:
        referral = await uow.referrals.get(cmd.referral_id)
        referral.accept(by=cmd.agency_id, at=clock.now())
        await uow.referrals.save(referral)
        return referral

* its first argument is the message (a command or an event), its second the unit of work; any further
  parameter is a **dependency injected by name** (``clock``, ``settings``, ``timers``, …) from the
  runtime's :class:`Dependencies`;
* it **never commits**: the caller owns the transaction. From HTTP, :meth:`MessageBus.handle` opens the
  unit of work, runs the handler and commits; from Kafka, the consumer does the same with the inbox
  claim in the same transaction; a timer does it with the timer's own row;
* a business refusal is a :class:`~reintegra_kit.domain.DomainError`: mapped to an HTTP status in one
  place, or recorded as the ``refused`` outcome on Kafka.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from .uow import UnitOfWork

U = TypeVar("U", bound=UnitOfWork)
Handler = Callable[..., Awaitable[Any]]
"""``async def handler(message, uow, **dependencies) -> result``."""

BoundHandler = Callable[[Any, U], Awaitable[Any]]
"""A handler with its dependencies filled in: ``await bound(message, uow)``."""


class Dependencies:
    """The named dependencies handlers may ask for, wired once in a service's composition root."""

    def __init__(self, **values: Any) -> None:
        self._values: dict[str, Any] = dict(values)

    def add(self, **values: Any) -> None:
        """Make more dependencies available (e.g. a service's directory or its timers)."""
        self._values.update(values)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def names(self) -> list[str]:
        return sorted(self._values)

    def bind(self, handler: Handler, *, leading: int = 2) -> Callable[..., Awaitable[Any]]:
        """``handler`` with every parameter after the ``leading`` ones — (message, uow), or (message,
        error, uow) for a refusal handler — filled in by name.

        Fails at once (at start-up, not at the first message) when a handler asks for a dependency
        that was not wired, or does not follow the contract.
        """
        params = list(inspect.signature(handler).parameters.values())
        name = getattr(handler, "__qualname__", repr(handler))
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(positional) < leading:
            shape = (
                "(message, uow, **dependencies)" if leading == 2 else "(message, error, uow, **dependencies)"
            )
            raise TypeError(f"handler {name} must take {shape}")
        wanted = [p for p in params[leading:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        missing = [p.name for p in wanted if p.name not in self._values and p.default is p.empty]
        if missing:
            raise TypeError(
                f"handler {name} needs {', '.join(missing)}; wired dependencies: {', '.join(self.names())}"
            )
        kwargs = {p.name: self._values[p.name] for p in wanted if p.name in self._values}

        async def bound(*args: Any) -> Any:
            return await handler(*args, **kwargs)

        bound.__qualname__ = name
        bound.__name__ = getattr(handler, "__name__", name)
        bound.__wrapped__ = handler  # type: ignore[attr-defined]
        return bound


class MessageBus(Generic[U]):
    """Runs a service's command handlers from HTTP (or a CLI): one unit of work per command, committed
    after the handler returned; a :class:`~reintegra_kit.domain.DomainError` rolls it back and reaches
    the caller (the HTTP layer maps it to a status)."""

    def __init__(self, uow_factory: Callable[[], U], dependencies: Dependencies) -> None:
        self._uow_factory = uow_factory
        self._deps = dependencies
        self._commands: dict[type[Any], BoundHandler[U]] = {}

    def register(self, commands: Mapping[type[Any], Handler]) -> None:
        """Declare the handler of each command type (one handler per command)."""
        for cls, handler in commands.items():
            if cls in self._commands:
                raise TypeError(f"command {cls.__name__} already has a handler")
            self._commands[cls] = self._deps.bind(handler)

    @property
    def command_types(self) -> list[type[Any]]:
        return list(self._commands)

    async def handle(self, command: Any) -> Any:
        """Run the handler of ``command`` in a new unit of work and commit; return its result."""
        try:
            handler = self._commands[type(command)]
        except KeyError:
            raise TypeError(f"no handler for command {type(command).__name__}") from None
        return await self.run(handler, command)

    async def run(self, handler: BoundHandler[U], message: Any) -> Any:
        """Run an already-bound ``handler`` on ``message`` in its own committed unit of work."""
        async with self._uow_factory() as uow:
            with uow.handler_scope(), uow.trace_scope(type(message).__name__, follow=True):
                result = await handler(message, uow)
            await uow.commit()
        return result
