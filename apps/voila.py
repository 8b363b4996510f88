"""Voila's configuration for ``make explorer`` (the Makefile sets ``Voila.config_file_paths``).

A pre-heated kernel: Voila starts a kernel and runs ``explorer.ipynb`` in it *before* anyone asks,
so a visitor's page arrives with the panel already built (about 2 s to the first picture instead
of 6-8 s: starting a kernel, importing JAX and building the panel is the rest). After each visit
Voila starts the next one in the background. The cost is one idle kernel, about 400 MB.

Culling (``MappingKernelManager.cull_idle_timeout``, set in the Makefile) and pre-heating need one
fix: a pooled kernel has been idle since it ran the app, possibly for hours, so in the second or
two between Voila handing it to a page and the page connecting, the culler would shut it down.
:class:`HandOverKernelManager` starts a kernel's idle clock when the culler first sees it, which
for a pooled kernel is when it leaves the pool (Voila keeps pooled kernels from the culler).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager


class HandOverKernelManager(AsyncMappingKernelManager):
    """A kernel's idle time counts from its first appearance to the culler (start or hand-over)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._seen: dict[str, datetime] = {}

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        now = datetime.now(UTC)
        last = self._seen.get(kernel_id)
        self._seen[kernel_id] = now
        # not seen for two passes: it was in Voila's pool and has just been handed to a page
        kernel = self.get_kernel(kernel_id)
        fresh = last is None or now - last > timedelta(seconds=2 * self.cull_interval)
        if fresh and hasattr(kernel, "last_activity"):  # set once the kernel has started
            kernel.last_activity = max(kernel.last_activity, now)
        await super().cull_kernel_if_idle(kernel_id)
        if kernel_id not in self:  # culled
            self._seen.pop(kernel_id, None)


c = get_config()  # noqa: F821 (traitlets provides it to configuration files)
c.VoilaConfiguration.preheat_kernel = True
c.VoilaConfiguration.default_pool_size = 1
c.VoilaConfiguration.multi_kernel_manager_class = HandOverKernelManager
# the next pooled kernel starts 5 s after a visit, not 1 s: the visitor's first moves of the
# controls do not compete with it for the CPU
c.VoilaKernelManager.fill_delay = 5
