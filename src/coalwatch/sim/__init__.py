"""Instrument simulators 仪表模拟器: real Modbus TCP servers on loopback that speak the
station's shipped register maps (belt-scale integrators, trip scales, station I/O),
with a realistic load profile and faults to inject while they run.

```python
sims = SimSet(belts=[BeltSpec(code="B1", map="bw500", rate_tph=600)], trips=[TripSpec("K1")])
sims.start()
sims.endpoints            # {"B1": ("127.0.0.1", port), "B1-IO": (...), "K1": (...)}
sims.inject("B1", "door_open")
sims.state("B1")["total_kg"]
sims.stop()
```
"""

from coalwatch.sim.instruments import BeltPoint, TripScale, UnknownFault
from coalwatch.sim.profile import RateNoise, Schedule
from coalwatch.sim.simset import BeltSpec, SimSet, TripSpec

__all__ = [
    "BeltPoint",
    "BeltSpec",
    "RateNoise",
    "Schedule",
    "SimSet",
    "TripScale",
    "TripSpec",
    "UnknownFault",
]
