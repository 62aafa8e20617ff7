"""How long recovery took, per fault: until work resumed, and the longest pause an SSE
follower saw."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ttsqueue.models import Event, EventType

if TYPE_CHECKING:
    from tests.chaos.traffic import Follower

WORK = {EventType.CHAPTER_COMPLETED, EventType.COMPLETED}


@dataclass
class FaultMeasure:
    kind: str
    lasted_s: float
    resumed_s: float | None  # after the fault ended, until the next chapter or book was done
    takeover_s: float | None  # a killed or frozen worker's chapters: until done by another
    pause_s: float  # longest gap between two events any follower saw, around the fault
    lag_s: float  # longest delay from an event's store time to a follower reading it


@dataclass
class Measured:
    faults: list[FaultMeasure] = field(default_factory=list)
    longest_pause_s: float = 0.0
    longest_lag_s: float = 0.0


def _worker_marker(pid: int) -> str:
    return f"-{pid}-"


def takeover(victim: int, start: float, events: dict[str, list[Event]]) -> float | None:
    """From the fault until the last chapter the victim held was completed elsewhere."""
    marker = _worker_marker(victim)
    worst: float | None = None
    for history in events.values():
        held: dict[int, float] = {}
        for e in history:
            if e.type is EventType.CHAPTER_STARTED and e.at <= start:
                who = str(e.data.get("worker_id") or "")
                index = int(e.data["index"])
                if marker in who:
                    held[index] = e.at
                else:
                    held.pop(index, None)
            elif e.type is EventType.CHAPTER_COMPLETED:
                index = int(e.data["index"])
                if index in held:
                    if e.at > start:
                        worst = max(worst or 0.0, e.at - start)
                    held.pop(index)
    return worst


def measure(
    faults: list[Any], events: dict[str, list[Event]], followers: list[Follower]
) -> Measured:
    done = sorted(e.at for history in events.values() for e in history if e.type in WORK)
    out = Measured()
    for fo in followers:
        for a, b in zip(fo.frames, fo.frames[1:], strict=False):
            out.longest_pause_s = max(out.longest_pause_s, b.received - a.received)
        for fr in fo.frames:
            out.longest_lag_s = max(out.longest_lag_s, fr.received - fr.at)
    for fault in faults:
        resumed = next((t - fault.end for t in done if t >= fault.end), None)
        taken = None
        if fault.victim_pid is not None and "worker" in fault.kind:
            taken = takeover(fault.victim_pid, fault.start, events)
        window = (fault.start, fault.end + (resumed or 0.0))
        pause = 0.0
        lag = 0.0
        for fo in followers:
            for a, b in zip(fo.frames, fo.frames[1:], strict=False):
                if a.received < window[1] and b.received > window[0]:
                    pause = max(pause, b.received - a.received)
            for fr in fo.frames:
                if window[0] <= fr.received <= window[1] + 5:
                    lag = max(lag, fr.received - fr.at)
        out.faults.append(
            FaultMeasure(fault.kind, fault.end - fault.start, resumed, taken, pause, lag)
        )
    return out
