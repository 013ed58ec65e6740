"""People 工作人员 and their certificates 持证上岗; rosters 排班, sign-on 到岗 and staffing.

The rules are in ``domain.people``. A unit is a mine or a supervising center (an org);
its people, certificates and roster are kept by the unit, and a supervising unit sees
those of its subtree. Once a unit keeps a register of its people, a user of that unit
acts on duty, signs a report as operator, records a calibration or a maintenance only
as a registered person with a valid certificate (``require_certified``); tokens and
the command line are not people and are not asked.

Timed rules (``tick``): a person signed on whose certificate is no longer valid raises
``uncertified_on_duty``; once a shift has begun (plus a grace of a few minutes), fewer
people signed on than the unit's minimum raises ``understaffed_shift`` and a rostered
person not signed on raises ``late_sign_on``; a mine's rostered shift that ended
without a handover signed by both sides raises ``unsigned_handover``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.alarms import service as alarms
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.config import Settings
from coalwatch.domain import duty as shifts_rules
from coalwatch.domain import people as rules
from coalwatch.domain.alarms import AlarmType, detail_params
from coalwatch.domain.authority import SUPERVISING_KINDS
from coalwatch.domain.reports import DEFAULT_SHIFTS, Shift
from coalwatch.duty import repository as duty_repository
from coalwatch.errors import N_, Conflict, Forbidden, Invalid, NotFound
from coalwatch.people import repository
from coalwatch.people.models import (
    Certificate,
    CertificateRenewal,
    Person,
    RosterEntry,
    StaffingRule,
)
from coalwatch.people.schemas import (
    CertificateIn,
    CertificateOut,
    DecisionIn,
    PersonIn,
    PersonOut,
    RenewalIn,
    RenewalOut,
    RosterEntryOut,
    RosterIn,
    RosterOut,
    ShiftStaffing,
    SignOnIn,
    StaffingIn,
    StaffingOut,
    SubstitutionIn,
)
from coalwatch.reports import service as reports
from coalwatch.storage.models import Mine, Org

#: the scanned certificate: at most this many bytes, of these media types
MAX_SCAN_BYTES = 5 * 1024 * 1024
SCAN_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})
#: sign-on opens this long before a shift's start
SIGN_ON_OPENS = timedelta(hours=1)
#: a shift's handover is awaited this long after its end before it is alarmed
HANDOVER_GRACE = timedelta(minutes=30)
#: a roster covers at most this many days at once
MAX_DAYS = 31


@dataclass(frozen=True, slots=True)
class Unit:
    """A mine, or a supervising center (an org), with its time zone and shifts."""

    org: Org
    mine: Mine | None
    tz: ZoneInfo
    shifts: tuple[Shift, ...]

    @property
    def key(self) -> str:
        return f"mine:{self.mine.id}" if self.mine is not None else f"org:{self.org.id}"

    @property
    def code(self) -> str:
        return self.mine.code if self.mine is not None else self.org.code

    @property
    def name(self) -> str:
        return self.mine.name if self.mine is not None else self.org.name

    @property
    def supervising(self) -> bool:
        return self.mine is None and self.org.kind in SUPERVISING_KINDS


def _unit_of(session: Session, org: Org, mine: Mine | None) -> Unit:
    if mine is not None:
        return Unit(org, mine, ZoneInfo(mine.timezone), reports.shifts_for(session, mine.id))
    zone = repository.first_mine_timezone(session, org.path)
    return Unit(
        org, None, ZoneInfo(zone or Settings.model_fields["timezone"].default), DEFAULT_SHIFTS
    )


def unit(session: Session, principal: Principal, code: str) -> Unit:
    """A unit by its code (a mine's, else an org's) that the principal sees."""
    found = repository.mine_or_org(session, code)
    if found is None or not principal.sees(found[0].path):
        raise NotFound(f"unit {code!r} not found")
    return _unit_of(session, *found)


# ---- staffing minimums --------------------------------------------------------------


def minimum_staff(session: Session, org: Org, mine: Mine | None = None) -> int:
    """People per shift at least: the regulation's floor (3 at a supervising center,
    2 at a mine), or the unit's own higher minimum."""
    supervising = mine is None and org.kind in SUPERVISING_KINDS
    key = f"mine:{mine.id}" if mine is not None else f"org:{org.id}"
    rule = repository.staffing_rule(session, key)
    return rules.tightened(rules.staffing_floor(supervising), rule.min_staff if rule else None)


def _early_minutes(session: Session, place: Unit) -> int:
    rule = repository.staffing_rule(session, place.key)
    return rule.early_minutes if rule else rules.DEFAULT_EARLY_MINUTES


def _staffing_out(session: Session, place: Unit) -> StaffingOut:
    return StaffingOut(
        unit=place.code,
        supervising=place.supervising,
        floor=rules.staffing_floor(place.supervising),
        min_staff=minimum_staff(session, place.org, place.mine),
        early_minutes=_early_minutes(session, place),
    )


def staffing(session: Session, principal: Principal, code: str) -> StaffingOut:
    principal.require("ledger:view")
    return _staffing_out(session, unit(session, principal, code))


def set_staffing(
    session: Session, principal: Principal, code: str, data: StaffingIn, now: datetime
) -> StaffingOut:
    """A unit raises its minimum per shift (never below the regulation's) and sets how
    early its staff arrive (10 minutes at least; 30 as some units' rules say)."""
    principal.require("ledger:write")
    place = unit(session, principal, code)
    try:
        rules.tightened(rules.staffing_floor(place.supervising), data.min_staff)
        rules.check_early_minutes(data.early_minutes)
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    rule = repository.staffing_rule(session, place.key)
    if rule is None:
        rule = StaffingRule(unit=place.key, early_minutes=data.early_minutes)
        session.add(rule)
    rule.min_staff, rule.early_minutes = data.min_staff, data.early_minutes
    rule.updated_by, rule.updated_at = principal.name, now
    session.flush()
    audit.record_change(
        session, actor=principal.name, action="staffing.set", key=place.code, data=data, at=now
    )
    return _staffing_out(session, place)


# ---- people and certificates --------------------------------------------------------


def _today(place: Unit, now: datetime) -> date:
    return now.astimezone(place.tz).date()


def _certificate_out(
    cert: Certificate, renewals: list[CertificateRenewal], today: date
) -> CertificateOut:
    return CertificateOut(
        id=cert.id,
        kind=cert.kind,
        number=cert.number,
        issued_by=cert.issued_by,
        issued_on=cert.issued_on,
        valid_through=cert.valid_through,
        warning_from=rules.warning_from(cert.valid_through),
        state=rules.state_on(cert.valid_through, today).value,
        renewals=[
            RenewalOut(
                renewed_by=r.renewed_by, renewed_on=r.renewed_on, valid_through=r.valid_through
            )
            for r in renewals
        ],
        scan=cert.scan is not None,
    )


def _people_out(
    session: Session, rows: Sequence[tuple[Person, Org, Mine | None]], today: date
) -> list[PersonOut]:
    certs = repository.certificates_of(session, [p.id for p, _, _ in rows])
    renewals: dict[int, list[CertificateRenewal]] = {}
    for renewal in repository.renewals_of(session, [c.id for c in certs]):
        renewals.setdefault(renewal.certificate_id, []).append(renewal)
    by_person: dict[int, list[Certificate]] = {}
    for cert in certs:
        by_person.setdefault(cert.person_id, []).append(cert)
    users = repository.usernames(session, [p.user_id for p, _, _ in rows if p.user_id])
    out = []
    for person, org, mine in rows:
        own = by_person.get(person.id, [])
        through = rules.best_through([c.valid_through for c in own])
        out.append(
            PersonOut(
                id=person.id,
                unit=mine.code if mine else org.code,
                unit_name=mine.name if mine else org.name,
                name=person.name,
                id_number=person.id_number,
                position=person.position,
                user=users.get(person.user_id) if person.user_id else None,
                valid_through=through,
                state=rules.state_on(through, today).value,
                certificates=[_certificate_out(c, renewals.get(c.id, []), today) for c in own],
            )
        )
    return out


def add_person(
    session: Session, principal: Principal, code: str, data: PersonIn, now: datetime
) -> PersonOut:
    principal.require("ledger:write")
    place = unit(session, principal, code)
    user_id = None
    if data.user:
        user = repository.user_by_username(session, data.user)
        if user is None:
            raise Invalid(f"no user {data.user!r}")
        if repository.person_of_user(session, user.id) is not None:
            raise Conflict(f"user {data.user!r} is linked to another person already")
        user_id = user.id
    person = Person(
        org_id=place.org.id,
        mine_id=place.mine.id if place.mine else None,
        name=data.name,
        id_number=rules.mask_id_number(data.id_number),
        position=data.position,
        user_id=user_id,
        active=True,
        created_by=principal.name,
        created_at=now,
    )
    repository.add(session, person)
    masked = data.model_copy(update={"id_number": person.id_number})
    audit.record_change(
        session, actor=principal.name, action="person.add", key=str(person.id), data=masked, at=now
    )
    return _people_out(session, [(person, place.org, place.mine)], _today(place, now))[0]


def register(
    session: Session, principal: Principal, code: str | None, now: datetime
) -> list[PersonOut]:
    """The certificate register: the people of a unit, or (no unit) of every unit the
    principal sees — for a supervising unit, its whole subtree."""
    principal.require("ledger:view")
    if code is None:
        rows = repository.people_under(session, principal.scope_path, None, None)
        zone = ZoneInfo(Settings.model_fields["timezone"].default)
        return _people_out(session, rows, now.astimezone(zone).date())
    place = unit(session, principal, code)
    rows = repository.people_under(
        session, None, place.org.id, place.mine.id if place.mine else None
    )
    return _people_out(session, rows, _today(place, now))


def _visible_person(session: Session, principal: Principal, person_id: int) -> tuple[Person, Unit]:
    person = repository.person(session, person_id)
    if person is None:
        raise NotFound(f"person {person_id} not found")
    found = repository.unit_by_key(
        session, f"mine:{person.mine_id}" if person.mine_id else f"org:{person.org_id}"
    )
    if found is None or not principal.sees(found[0].path):
        raise NotFound(f"person {person_id} not found")
    return person, _unit_of(session, *found)


def add_certificate(
    session: Session, principal: Principal, person_id: int, data: CertificateIn, now: datetime
) -> PersonOut:
    """A certificate, valid two years from its issue (less a day)."""
    principal.require("ledger:write")
    person, place = _visible_person(session, principal, person_id)
    if data.issued_on > _today(place, now):
        raise Invalid(f"a certificate issued on {data.issued_on} is in the future")
    cert = Certificate(
        person_id=person.id,
        kind=data.kind,
        number=data.number,
        issued_by=data.issued_by,
        issued_on=data.issued_on,
        valid_through=rules.valid_through(data.issued_on),
        recorded_by=principal.name,
        created_at=now,
    )
    repository.add(session, cert)
    audit.record_change(
        session, actor=principal.name, action="certificate.add", key=str(cert.id), data=data, at=now
    )
    return _people_out(session, [(person, place.org, place.mine)], _today(place, now))[0]


def _visible_certificate(
    session: Session, principal: Principal, certificate_id: int
) -> tuple[Certificate, Person, Unit]:
    cert = repository.certificate(session, certificate_id)
    if cert is None:
        raise NotFound(f"certificate {certificate_id} not found")
    try:
        person, place = _visible_person(session, principal, cert.person_id)
    except NotFound:
        raise NotFound(f"certificate {certificate_id} not found") from None
    return cert, person, place


def renew_certificate(
    session: Session, principal: Principal, certificate_id: int, data: RenewalIn, now: datetime
) -> PersonOut:
    """延期: two more years, from the end of the old validity (or the renewal day)."""
    principal.require("ledger:write")
    cert, person, place = _visible_certificate(session, principal, certificate_id)
    if data.renewed_on > _today(place, now):
        raise Invalid(f"a renewal on {data.renewed_on} is in the future")
    if data.renewed_on < cert.issued_on:
        raise Invalid("a certificate is renewed after it was issued")
    through = rules.renewed_through(cert.valid_through, data.renewed_on)
    repository.add(
        session,
        CertificateRenewal(
            certificate_id=cert.id,
            renewed_by=data.renewed_by,
            renewed_on=data.renewed_on,
            valid_through=through,
            recorded_by=principal.name,
            created_at=now,
        ),
    )
    cert.valid_through = through
    session.flush()
    audit.record_change(
        session,
        actor=principal.name,
        action="certificate.renew",
        key=str(cert.id),
        data=data,
        at=now,
    )
    return _people_out(session, [(person, place.org, place.mine)], _today(place, now))[0]


def set_scan(
    session: Session,
    principal: Principal,
    certificate_id: int,
    body: bytes,
    media_type: str,
    filename: str | None,
    now: datetime,
) -> None:
    """The scanned certificate (PDF, JPEG or PNG, at most 5 MB)."""
    principal.require("ledger:write")
    cert, _, _ = _visible_certificate(session, principal, certificate_id)
    media_type = media_type.split(";")[0].strip().lower()
    if media_type not in SCAN_TYPES:
        raise Invalid(f"a scan is one of {sorted(SCAN_TYPES)}, not {media_type!r}")
    if not body or len(body) > MAX_SCAN_BYTES:
        raise Invalid(f"a scan has 1 to {MAX_SCAN_BYTES} bytes, not {len(body)}")
    cert.scan, cert.scan_type, cert.scan_name = body, media_type, (filename or "")[:200] or None
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="certificate.scan",
        entity="certificate",
        key=str(cert.id),
        detail={"media_type": media_type, "bytes": len(body)},
        at=now,
    )


def scan(session: Session, principal: Principal, certificate_id: int) -> tuple[bytes, str, str]:
    principal.require("ledger:view")
    cert, _, _ = _visible_certificate(session, principal, certificate_id)
    if cert.scan is None or cert.scan_type is None:
        raise NotFound(f"certificate {certificate_id} has no scan")
    return cert.scan, cert.scan_type, cert.scan_name or f"certificate-{cert.id}"


def _state_of(session: Session, person: Person, today: date) -> rules.CertificateState:
    through = rules.best_through(
        [c.valid_through for c in repository.certificates_of(session, [person.id])]
    )
    return rules.state_on(through, today)


def require_certified(
    session: Session, principal: Principal, org: Org, mine: Mine | None, act: str, now: datetime
) -> None:
    """持证上岗: a user of a unit that keeps a register acts (``act``: domain.people.ACTS)
    only as a registered person with a valid certificate; refused with the reason."""
    if principal.kind != "user" or principal.user_id is None:
        return
    person = repository.person_of_user(session, principal.user_id)
    if person is None:
        if repository.register_kept(session, org.id, mine.id if mine else None):
            raise Forbidden(
                N_("%(user)s 未登记为本单位工作人员，不得%(act)s（持证上岗）"),
                {"act": act, "rule": "certificate"},
                code="uncertified",
                params={"user": principal.name, "act": rules.ACTS[act]},
                labels=("act",),
            )
        return
    zone = ZoneInfo(mine.timezone) if mine else ZoneInfo(Settings.model_fields["timezone"].default)
    state = _state_of(session, person, now.astimezone(zone).date())
    if not rules.may_act(state):
        raise Forbidden(
            N_("%(person)s 的上岗资格证%(state)s，不得%(act)s（持证上岗）"),
            {"act": act, "state": state.value, "rule": "certificate"},
            code="uncertified",
            params={
                "person": person.name,
                "state": rules.STATE_LABELS[state],
                "act": rules.ACTS[act],
            },
            labels=("state", "act"),
        )


# ---- roster, substitutions, sign-on --------------------------------------------------


def _shift(place: Unit, name: str) -> Shift:
    for shift in place.shifts:
        if shift.name == name:
            return shift
    raise Invalid(
        f"the unit has no shift {name!r}; its shifts are {[s.name for s in place.shifts]}"
    )


def _unit_person(session: Session, place: Unit, person_id: int) -> Person:
    person = repository.person(session, person_id)
    if (
        person is None
        or person.org_id != place.org.id
        or person.mine_id != (place.mine.id if place.mine else None)
    ):
        raise Invalid(f"person {person_id} is not of the unit {place.code}")
    return person


def add_to_roster(
    session: Session, principal: Principal, code: str, data: RosterIn, now: datetime
) -> RosterEntryOut:
    """A person on a shift of the roster 按名单轮流上岗."""
    principal.require("ledger:write")
    place = unit(session, principal, code)
    _shift(place, data.shift)
    person = _unit_person(session, place, data.person)
    entry = _new_entry(session, principal, place, data.day, data.shift, person, "rostered", now)
    audit.record_change(
        session, actor=principal.name, action="roster.add", key=str(entry.id), data=data, at=now
    )
    return _entries_out(session, place, [entry], now)[0]


def _new_entry(
    session: Session,
    principal: Principal,
    place: Unit,
    day: date,
    shift: str,
    person: Person,
    status: str,
    now: datetime,
    **extra: Any,
) -> RosterEntry:
    """A person's new entry on a shift of the unit's roster (409 when already on it)."""
    if repository.entry_of(session, place.key, day, shift, person.id) is not None:
        raise Conflict(f"{person.name} is on the {shift} of {day} already")
    entry = RosterEntry(
        unit=place.key,
        org_id=place.org.id,
        mine_id=place.mine.id if place.mine else None,
        day=day,
        shift=shift,
        person_id=person.id,
        status=status,
        created_by=principal.name,
        created_at=now,
        **extra,
    )
    repository.add(session, entry)
    return entry


def request_substitution(
    session: Session, principal: Principal, code: str, data: SubstitutionIn, now: datetime
) -> RosterEntryOut:
    """顶班: ``person`` takes ``replaces``'s place on a shift, once the leader approves."""
    principal.require("ledger:write")
    place = unit(session, principal, code)
    _shift(place, data.shift)
    person = _unit_person(session, place, data.person)
    replaced = repository.entry_of(session, place.key, data.day, data.shift, data.replaces)
    if replaced is None or replaced.status != "rostered":
        raise Invalid(f"person {data.replaces} is not on the {data.shift} of {data.day}")
    entry = _new_entry(
        session,
        principal,
        place,
        data.day,
        data.shift,
        person,
        "requested",
        now,
        replaces_id=data.replaces,
        reason=data.reason,
    )
    audit.record_change(
        session,
        actor=principal.name,
        action="roster.substitute",
        key=str(entry.id),
        data=data,
        at=now,
    )
    return _entries_out(session, place, [entry], now)[0]


def _require_leader(session: Session, principal: Principal, place: Unit) -> None:
    """未经有关领导同意，不得擅自顶班: the unit's leader (a registered person of the unit
    holding the leader's or the duty mine manager's position) decides."""
    principal.require("ledger:write")
    if principal.kind != "user" or principal.user_id is None:
        return
    person = repository.person_of_user(session, principal.user_id)
    if (
        person is None
        or person.org_id != place.org.id
        or person.mine_id != (place.mine.id if place.mine else None)
        or person.position not in ("leader", "duty_mine_manager")
    ):
        raise Forbidden(N_("顶班须经本单位负责人同意"), {"rule": "leader"}, code="not_the_leader")


def decide_substitution(
    session: Session, principal: Principal, entry_id: int, data: DecisionIn, now: datetime
) -> RosterEntryOut:
    principal.require("ledger:write")
    entry = repository.roster_entry(session, entry_id)
    found = repository.unit_by_key(session, entry.unit) if entry else None
    if entry is None or found is None or not principal.sees(found[0].path):
        raise NotFound(f"roster entry {entry_id} not found")
    place = _unit_of(session, *found)
    _require_leader(session, principal, place)
    if entry.status != "requested":
        raise Conflict(f"roster entry {entry_id} is not a substitution waiting for a decision")
    entry.status = "rostered" if data.approve else "rejected"
    entry.decided_by, entry.decided_at = principal.name, now
    if data.approve and entry.replaces_id is not None:
        replaced = repository.entry_of(
            session, entry.unit, entry.day, entry.shift, entry.replaces_id
        )
        if replaced is not None:
            replaced.status = "replaced"
    session.flush()
    audit.record_change(
        session, actor=principal.name, action="roster.decide", key=str(entry.id), data=data, at=now
    )
    return _entries_out(session, place, [entry], now)[0]


def _slot_for_sign(place: Unit, data: SignOnIn, now: datetime) -> shifts_rules.ShiftSlot:
    if data.day is not None and data.shift is not None:
        return shifts_rules.slot(data.day, _shift(place, data.shift), place.tz)
    if data.day is not None or data.shift is not None:
        raise Invalid("give both day and shift, or neither (the shift starting next or running)")
    upcoming = shifts_rules.slot_at(now + SIGN_ON_OPENS, place.shifts, place.tz)
    return upcoming if upcoming.start > now else shifts_rules.slot_at(now, place.shifts, place.tz)


def me(session: Session, principal: Principal, code: str) -> int | None:
    """The id of the signed-in user's person record when it is of this unit."""
    if principal.kind != "user" or principal.user_id is None:
        return None
    place = unit(session, principal, code)
    person = repository.person_of_user(session, principal.user_id)
    if person is None or person.org_id != place.org.id:
        return None
    return person.id if person.mine_id == (place.mine.id if place.mine else None) else None


def sign(
    session: Session, principal: Principal, code: str, act: str, data: SignOnIn, now: datetime
) -> RosterEntryOut:
    """到岗 / 离岗: the signed-in person signs on for a shift they are rostered on (from an
    hour before its start, with a valid certificate), or off at its end."""
    principal.require("ledger:write")
    place = unit(session, principal, code)
    if principal.kind != "user" or principal.user_id is None:
        raise Invalid("sign-on is by a person: sign in as a user linked to a person")
    person = repository.person_of_user(session, principal.user_id)
    if person is None:
        raise Invalid(f"{principal.name} is not a registered person of {place.code}")
    slot = _slot_for_sign(place, data, now)
    entry = repository.entry_of(session, place.key, slot.day, slot.name, person.id)
    if entry is None or entry.status != "rostered":
        raise Invalid(f"{person.name} is not on the roster of the {slot.name} of {slot.day}")
    if act == "on":
        if now < slot.start - SIGN_ON_OPENS or now >= slot.end:
            raise Invalid(
                f"sign-on for the {slot.name} of {slot.day} is open from an hour before it"
            )
        if entry.signed_on_at is not None:
            raise Conflict(f"{person.name} has signed on already")
        require_certified(session, principal, place.org, place.mine, "duty", now)
        entry.signed_on_at = now
        alarms.end_condition(
            session,
            mine_id=entry.mine_id,
            type_=AlarmType.LATE_SIGN_ON,
            at=now,
            subject=_subject(slot, place, f"/{person.id}"),
        )
    else:
        if entry.signed_on_at is None:
            raise Invalid(f"{person.name} has not signed on")
        if entry.signed_off_at is not None:
            raise Conflict(f"{person.name} has signed off already")
        entry.signed_off_at = now
        alarms.end_condition(
            session,
            mine_id=entry.mine_id,
            type_=AlarmType.UNCERTIFIED_ON_DUTY,
            at=now,
            subject=f"person:{person.id}",
        )
    session.flush()
    audit.record_change(
        session,
        actor=principal.name,
        action=f"roster.sign_{act}",
        key=str(entry.id),
        data=data,
        at=now,
    )
    return _entries_out(session, place, [entry], now)[0]


def _entries_out(
    session: Session, place: Unit, entries: Sequence[RosterEntry], now: datetime
) -> list[RosterEntryOut]:
    ids = {e.person_id for e in entries} | {e.replaces_id for e in entries if e.replaces_id}
    people = repository.people_by_id(session, list(ids))
    certs = repository.certificates_of(session, list(ids))
    through: dict[int, list[date]] = {}
    for cert in certs:
        through.setdefault(cert.person_id, []).append(cert.valid_through)
    early = _early_minutes(session, place)
    out = []
    for e in entries:
        slot = shifts_rules.slot(e.day, _shift(place, e.shift), place.tz)
        late = (
            rules.late_sign_on(slot.start, early, e.signed_on_at)
            if e.signed_on_at is not None
            else e.status == "rostered" and now >= rules.staffing_due(slot.start)
        )
        state = rules.state_on(
            rules.best_through(through.get(e.person_id, [])), slot.start.astimezone(place.tz).date()
        )
        out.append(
            RosterEntryOut(
                id=e.id,
                unit=place.code,
                day=e.day,
                shift=e.shift,
                person=e.person_id,
                person_name=people[e.person_id].name,
                status=e.status,
                replaces=e.replaces_id,
                replaces_name=people[e.replaces_id].name if e.replaces_id else None,
                reason=e.reason,
                decided_by=e.decided_by,
                signed_on_at=e.signed_on_at,
                signed_off_at=e.signed_off_at,
                late=late,
                certificate=state.value,
            )
        )
    return out


def _on_duty(entry: RosterEntry, at: datetime) -> bool:
    return (
        entry.status == "rostered"
        and entry.signed_on_at is not None
        and entry.signed_on_at <= at
        and (entry.signed_off_at is None or entry.signed_off_at > at)
    )


def _staffing_of(
    session: Session, place: Unit, first: date, last: date, now: datetime
) -> list[ShiftStaffing]:
    entries = repository.roster(session, place.key, first, last)
    outs = {
        e.id: o for e, o in zip(entries, _entries_out(session, place, entries, now), strict=True)
    }
    minimum = minimum_staff(session, place.org, place.mine)
    out = []
    for slot in shifts_rules.slots_between(first, last, place.shifts, place.tz):
        mine_entries = [e for e in entries if e.day == slot.day and e.shift == slot.name]
        judged = now >= rules.staffing_due(slot.start)
        at = min(now, slot.end)
        signed = sum(1 for e in mine_entries if _on_duty(e, at))
        out.append(
            ShiftStaffing(
                day=slot.day,
                shift=slot.name,
                start=slot.start,
                end=slot.end,
                minimum=minimum,
                rostered=sum(1 for e in mine_entries if e.status == "rostered"),
                signed_on=signed,
                short=judged and signed < minimum,
                judged=judged,
                entries=[outs[e.id] for e in mine_entries],
            )
        )
    return out


def roster(
    session: Session, principal: Principal, code: str, first: date, last: date, now: datetime
) -> RosterOut:
    """The roster of the days, shift by shift: who is on, who signed on, staffing."""
    principal.require("ledger:view")
    place = unit(session, principal, code)
    if last < first or (last - first).days >= MAX_DAYS:
        raise Invalid(f"a roster covers 1 to {MAX_DAYS} days, from {first} to {last} given")
    return RosterOut(
        unit=place.code,
        unit_name=place.name,
        staffing=_staffing_out(session, place),
        shifts=_staffing_of(session, place, first, last, now),
    )


# ---- timed rules ---------------------------------------------------------------------


def _subject(slot: shifts_rules.ShiftSlot, place: Unit, extra: str = "") -> str:
    return f"{place.key}/{slot.day.isoformat()}/{slot.name}{extra}"[:64]


def tick(session: Session, now: datetime) -> None:
    """The staffing, sign-on, certificate and handover rules, for the units with a
    roster on yesterday or today (the deployment's days, a day's margin either way)."""
    zone = ZoneInfo(Settings.model_fields["timezone"].default)
    today = now.astimezone(zone).date()
    for key in repository.rostered_units(
        session, today - timedelta(days=2), today + timedelta(days=1)
    ):
        found = repository.unit_by_key(session, key)
        if found is None:
            continue
        place = _unit_of(session, *found)
        _judge_unit(session, place, now)
    _uncertified(session, now)


def _judge_unit(session: Session, place: Unit, now: datetime) -> None:
    local = now.astimezone(place.tz).date()
    mine_id = place.mine.id if place.mine else None
    early = _early_minutes(session, place)
    entries = repository.roster(session, place.key, local - timedelta(days=1), local)
    minimum = minimum_staff(session, place.org, place.mine)
    people = repository.people_by_id(session, list({e.person_id for e in entries}))
    for slot in shifts_rules.slots_between(
        local - timedelta(days=1), local, place.shifts, place.tz
    ):
        on_shift = [e for e in entries if e.day == slot.day and e.shift == slot.name]
        if not on_shift:
            continue
        due = rules.staffing_due(slot.start)
        if due <= now < slot.end:
            signed = sum(1 for e in on_shift if _on_duty(e, now))
            if signed < minimum:
                alarms.raise_alarm(
                    session,
                    mine_id=mine_id,
                    type_=AlarmType.UNDERSTAFFED_SHIFT,
                    at=due,
                    subject=_subject(slot, place),
                    value=str(signed),
                    threshold=str(minimum),
                    expires_at=slot.end,
                    params=detail_params(
                        "understaffed",
                        unit=place.name,
                        day=slot.day.isoformat(),
                        shift=slot.name,
                        signed=signed,
                        minimum=minimum,
                    ),
                )
            else:
                alarms.end_condition(
                    session,
                    mine_id=mine_id,
                    type_=AlarmType.UNDERSTAFFED_SHIFT,
                    at=now,
                    subject=_subject(slot, place),
                )
            for e in on_shift:
                if e.status == "rostered" and e.signed_on_at is None:
                    alarms.raise_alarm(
                        session,
                        mine_id=mine_id,
                        type_=AlarmType.LATE_SIGN_ON,
                        at=due,
                        subject=_subject(slot, place, f"/{e.person_id}"),
                        expires_at=slot.end,
                        params=detail_params(
                            "late_sign_on",
                            person=people[e.person_id].name,
                            due=rules.sign_on_window(slot.start, early)
                            .astimezone(place.tz)
                            .strftime("%H:%M"),
                            day=slot.day.isoformat(),
                            shift=slot.name,
                        ),
                    )
        if place.mine is not None and slot.end + HANDOVER_GRACE <= now:
            _handover_signed(session, place, slot, now)


def _handover_signed(
    session: Session, place: Unit, slot: shifts_rules.ShiftSlot, now: datetime
) -> None:
    assert place.mine is not None
    handover = duty_repository.handover_of(session, place.mine.id, slot.day, slot.name)
    subject = _subject(slot, place)
    if handover is not None and handover.incoming_signed_at is not None:
        alarms.end_condition(
            session,
            mine_id=place.mine.id,
            type_=AlarmType.UNSIGNED_HANDOVER,
            at=handover.incoming_signed_at,
            subject=subject,
        )
        return
    alarms.raise_alarm(
        session,
        mine_id=place.mine.id,
        type_=AlarmType.UNSIGNED_HANDOVER,
        at=slot.end + HANDOVER_GRACE,
        subject=subject,
        params=detail_params("unsigned_handover", day=slot.day.isoformat(), shift=slot.name),
    )


def _uncertified(session: Session, now: datetime) -> None:
    entries = repository.signed_on(session)
    people = repository.people_by_id(session, list({e.person_id for e in entries}))
    zone = ZoneInfo(Settings.model_fields["timezone"].default)
    for e in entries:
        person = people[e.person_id]
        state = _state_of(session, person, now.astimezone(zone).date())
        subject = f"person:{person.id}"
        if rules.may_act(state) or e.status != "rostered":
            alarms.end_condition(
                session,
                mine_id=e.mine_id,
                type_=AlarmType.UNCERTIFIED_ON_DUTY,
                at=now,
                subject=subject,
            )
            continue
        alarms.raise_alarm(
            session,
            mine_id=e.mine_id,
            type_=AlarmType.UNCERTIFIED_ON_DUTY,
            at=now,
            subject=subject,
            value=state.value,
            params=detail_params("uncertified", person=person.name, state=state.value),
        )
