"""Voila's configuration for ``make explorer`` (the Makefile sets ``Voila.config_file_paths``).

A pre-heated kernel: Voila starts a kernel and runs ``explorer.ipynb`` in it *before* anyone asks,
so a visitor's page arrives with the panel already built (about 2 s to the first picture instead
of 6-8 s: starting a kernel, importing JAX and building the panel is the rest). After each visit
Voila starts the next one in the background. The cost is one idle kernel, about 400 MB.

Culling (``MappingKernelManager.cull_idle_timeout``, set in the Makefile) and pre-heating need one
fix: a pooled kernel has been idle since it ran the app, possibly for hours, so in the seconds
between Voila handing it to a page and the page connecting, the culler would shut it down.
:class:`HandOverKernelManager` keeps a kernel that has not had a connection yet from the culler for
up to ``HAND_OVER_GRACE`` seconds after the culler first sees it (for a pooled kernel, when it
leaves the pool: Voila keeps pooled kernels from the culler); from its page's first activity on,
the usual idle culling applies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

#: seconds a kernel may wait for its page's first connection (a slow page load on a busy machine)
HAND_OVER_GRACE = 60


class HandOverKernelManager(AsyncMappingKernelManager):
    """A kernel's idle time counts from its page's first sign of life (the first activity after
    the kernel appeared to the culler, at its start or hand-over), or from ``HAND_OVER_GRACE``
    seconds after it appeared if its page never comes."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._pass = 0  # the culler's passes over all kernels so far
        self._seen: dict[str, int] = {}  # kernel -> the last pass that saw it
        # kernel -> (when it appeared, the last_activity this manager last gave it), until its
        # page shows activity of its own (Voila's pooled kernels do not count connections)
        self._waiting: dict[str, tuple[datetime, datetime | None]] = {}

    async def cull_kernels(self) -> None:
        self._pass += 1
        await super().cull_kernels()

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        now = datetime.now(UTC)
        last = self._seen.get(kernel_id)
        self._seen[kernel_id] = self._pass
        # new, or missed by a whole pass: it was in Voila's pool and has just been handed to a
        # page (a pass that merely comes late, on a busy machine, misses nobody)
        if last is None or last < self._pass - 1:
            self._waiting[kernel_id] = (now, None)
        kernel = self.get_kernel(kernel_id)
        if kernel_id in self._waiting and hasattr(kernel, "last_activity"):  # once started
            appeared, given = self._waiting[kernel_id]
            if given is not None and kernel.last_activity > given:
                del self._waiting[kernel_id]  # activity of its own: ordinary idle culling
            elif now - appeared < timedelta(seconds=HAND_OVER_GRACE):
                kernel.last_activity = now
                self._waiting[kernel_id] = (appeared, now)
        await super().cull_kernel_if_idle(kernel_id)
        if kernel_id not in self:  # culled
            self._seen.pop(kernel_id, None)
            self._waiting.pop(kernel_id, None)


c = get_config()  # noqa: F821 (traitlets provides it to configuration files)
c.VoilaConfiguration.preheat_kernel = True
c.VoilaConfiguration.default_pool_size = 1
c.VoilaConfiguration.multi_kernel_manager_class = HandOverKernelManager
# the next pooled kernel starts 5 s after a visit, not 1 s: the visitor's first moves of the
# controls do not compete with it for the CPU
c.VoilaKernelManager.fill_delay = 5
