"""The deployment's domain configuration: one YAML file, validated at start.

Campaign calendar, areas, complaint categories, agencies with their staff chats, staff members and
routing rules. A deployment for 2024 Bình Phước and one for today's Đồng Nai differ only in this file.
The schema is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from handlers.areas import province_units

CONFIG_DIR = Path(__file__).with_name("configs")
DEFAULT_CONFIG_PATH = CONFIG_DIR / "dong_nai_2026.yaml"  # today's Đồng Nai, after the 2025 merger
PLAN_2024_CONFIG_PATH = CONFIG_DIR / "binh_phuoc_2024.yaml"  # the 2024 Bình Phước plan, as it was written
VERIFY_MARK = "⚠️ cần kiểm chứng"

Slug = str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Link(_Strict):
    title: str
    url: str


def _contact_line(value: Any) -> Any:
    """A contact line is text, or ``{text, verify: true}`` for one no source confirms (shown marked)."""
    if isinstance(value, dict) and set(value) <= {"text", "verify"} and isinstance(value.get("text"), str):
        return f"{value['text']} ({VERIFY_MARK})" if value.get("verify") else value["text"]
    return value


class Jurisdiction(_Strict):
    """Sở có thẩm quyền trong một khoảng thời gian khác (trước/sau sắp xếp tỉnh), để câu trả lời về ngày đó nêu đúng."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    province: str
    portal: str = ""
    promotion_filing: str = ""
    valid_from: date | None = Field(default=None, alias="from")
    until: date | None = None

    def covers(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.until is None or day <= self.until)


class Department(_Strict):
    name: str = Field(description="Tên đầy đủ của Sở, ví dụ 'Sở Công Thương tỉnh Bình Phước'")
    short_name: str
    province: str
    portal: str = Field(default="", description="Cổng thông tin của Sở (tên miền), nêu trong câu trả lời")
    promotion_filing: str = Field(default="", description="Hệ thống nộp hồ sơ khuyến mại trực tuyến (tên miền)")
    jurisdictions: list[Jurisdiction] = Field(
        default_factory=list, description="Sở có thẩm quyền trong thời gian khác (from/until), ví dụ trước sáp nhập"
    )
    contact_lines: list[Annotated[str, BeforeValidator(_contact_line)]] = Field(
        default_factory=list, description="Dòng liên hệ hiển thị ở mục Liên hệ; {text, verify: true} = cần kiểm chứng"
    )
    links: list[Link] = Field(default_factory=list)


class CampaignEvent(_Strict):
    id: Slug
    name: str
    start: datetime
    end: datetime
    description: str = ""
    links: list[Link] = Field(default_factory=list)
    main: bool = Field(default=False, description="Cửa sổ chính để đếm ngược (60 giờ Online Friday)")

    @model_validator(mode="after")
    def _ordered(self) -> CampaignEvent:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start và end phải có múi giờ, ví dụ 2024-11-29T00:00:00+07:00")
        if self.end <= self.start:
            raise ValueError("end phải sau start")
        return self


class Campaign(_Strict):
    id: Slug
    name: str
    year: int
    timezone: str = "Asia/Ho_Chi_Minh"
    decision: str = ""
    events: list[CampaignEvent] = Field(min_length=1)
    verify_note: str = Field(default="", description="Ghi chú 'cần kiểm chứng' nếu lịch chưa chắc chắn")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"múi giờ không hợp lệ: {value}") from exc
        return value

    @model_validator(mode="after")
    def _one_main(self) -> Campaign:
        ids = [event.id for event in self.events]
        if len(ids) != len(set(ids)):
            raise ValueError("events có id trùng nhau")
        if sum(event.main for event in self.events) > 1:
            raise ValueError("chỉ một event được đánh dấu main")
        return self

    @property
    def main_event(self) -> CampaignEvent:
        return next((event for event in self.events if event.main), self.events[0])

    @property
    def start(self) -> datetime:
        return min(event.start for event in self.events)

    @property
    def end(self) -> datetime:
        return max(event.end for event in self.events)


class Area(_Strict):
    id: Slug
    name: str


class Category(_Strict):
    id: Slug
    name: str


ChannelName = Literal["telegram", "zalo_bot", "zalo_oa", "console"]
CannedAction = Literal["reply", "more", "done", "rej"]  # the case actions whose text a canned reply can fill


class CannedReplyEntry(_Strict):
    """Mẫu trả lời. Placeholders: {code}, {agency}, {today}, {submitted}, {due}."""

    title: str = Field(min_length=1, max_length=40, description="Nhãn nút bấm")
    text: str = Field(min_length=3, max_length=2000)
    actions: list[CannedAction] = Field(default_factory=list, description="Dùng cho thao tác nào; rỗng = mọi thao tác")


class CloseReasons(_Strict):
    """Lý do đóng phản ánh (bắt buộc khi Hoàn tất hoặc Từ chối), chọn từ danh sách hoặc gõ lý do khác."""

    done: list[str] = Field(
        default_factory=lambda: [
            "Đã xử lý vi phạm người bán",
            "Người bán đã hoàn tiền, đổi hàng",
            "Hai bên đã thương lượng thành công",
            "Đã hướng dẫn người phản ánh",
        ]
    )
    rej: list[str] = Field(
        default_factory=lambda: [
            "Không đủ thông tin để xác minh",
            "Không thuộc thẩm quyền",
            "Không có dấu hiệu vi phạm",
            "Trùng với phản ánh khác",
        ]
    )


class Agency(_Strict):
    id: Slug
    name: str
    short_name: str
    duties: str = ""
    chats: dict[ChannelName, list[str]] = Field(default_factory=dict, description="Nhóm chat của cán bộ theo kênh")
    verify: bool = Field(default=False, description="Tên/nhiệm vụ chưa có nguồn xác nhận: hiển thị 'cần kiểm chứng'")
    close_reasons: CloseReasons = Field(default_factory=CloseReasons)
    canned_replies: list[CannedReplyEntry] = Field(default_factory=list, description="Mẫu trả lời của cơ quan")
    topics: bool = Field(default=False, description="Nhóm Telegram là diễn đàn (forum): mỗi phản ánh một chủ đề riêng")

    @property
    def shown_name(self) -> str:
        return f"{self.name} ({VERIFY_MARK})" if self.verify else self.name

    @property
    def shown_short_name(self) -> str:
        return f"{self.short_name} ⚠️" if self.verify else self.short_name


class AreaUnits(_Strict):
    """Địa bàn là xã, phường hiện nay của một tỉnh, lấy từ gói dữ liệu đơn vị hành chính (handlers/areas.py)."""

    province: str = Field(description="Tỉnh hiện nay, ví dụ 'Đồng Nai'")
    outside: Slug = Field(description="Id địa bàn 'Ngoài tỉnh' (khai báo trong areas)")
    committee: Slug | None = Field(default=None, description="Cơ quan nhận bản sao cho xã, phường không có mục riêng")


class StaffEntry(_Strict):
    """A staff member as the configuration lists them (seeded into the staff table at start)."""

    channel: ChannelName
    user_id: str
    name: str
    agency: Slug
    role: Literal["agent", "supervisor", "admin"] = "agent"


class RoutingRule(_Strict):
    kind: Literal["consumer_report", "merchant_question"] = "consumer_report"
    categories: list[Slug] = Field(default_factory=list, description="Rỗng = mọi loại")
    areas: list[Slug] = Field(default_factory=list, description="Rỗng = mọi địa bàn")
    lead: Slug
    copies: list[Slug] = Field(default_factory=list)
    copy_area_committee: bool = Field(default=False, description="Gửi bản sao cho UBND địa bàn")


class Sla(_Strict):
    category: Slug | Literal["*"] = "*"
    acknowledge_hours: float = Field(gt=0)
    resolve_hours: float = Field(gt=0)
    in_window_acknowledge_hours: float | None = Field(default=None, gt=0)
    in_window_resolve_hours: float | None = Field(default=None, gt=0)


class Cases(_Strict):
    """Xử lý phản ánh của cán bộ. How staff handle cases: escalation and digests of long queues."""

    escalate_after_hours: float = Field(
        default=4, gt=0, description="Quá hạn tiếp nhận chừng này (giờ) thì báo lãnh đạo và cơ quan điều phối"
    )
    coordinator: Slug | None = Field(
        default=None, description="Cơ quan điều phối nhận cảnh báo quá hạn; trống = cơ quan chủ trì hỏi đáp (qltm)"
    )
    digest_after: int = Field(
        default=5, ge=1, description="Nhóm còn chừng này thẻ chưa gửi thì gộp các phản ánh mới thành bản tin"
    )
    digest_size: int = Field(default=10, ge=2, le=20, description="Số phản ánh tối đa trong một bản tin gộp")
    digest_wait_seconds: float = Field(
        default=20, ge=0, description="Bản tin gộp chờ chừng này (giây) để gom thêm phản ánh rồi mới gửi"
    )
    reopen_days: int = Field(
        default=7, ge=1, description="Người phản ánh trả lời «Chưa được giải quyết» trong chừng này ngày thì mở lại"
    )


class Limits(_Strict):
    conversation_minutes: int = Field(default=30, gt=0, description="Phiên hỏi đáp hết hạn sau (phút)")
    draft_hours: int = Field(default=24, gt=0, description="Bản nháp phản ánh được giữ (giờ)")
    reports_per_day: int = Field(default=5, gt=0)

    @property
    def conversation_ttl(self) -> timedelta:
        return timedelta(minutes=self.conversation_minutes)


_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")


def _parse_duration(value: Any) -> Any:
    """Accept compact durations such as ``7d``, ``12h``, ``30m``, ``1d12h`` (or anything pydantic takes)."""
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip().lower())
        if match and any(match.groups()):
            days, hours, minutes = (int(part or 0) for part in match.groups())
            return timedelta(days=days, hours=hours, minutes=minutes)
    return value


def _parse_clock(value: Any) -> Any:
    if isinstance(value, int):  # YAML 1.1 reads an unquoted 22:00 as the number 1320
        raise ValueError('giờ phải đặt trong ngoặc kép, ví dụ "22:00"')
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]
ClockTime = Annotated[time, BeforeValidator(_parse_clock)]


class QuietHours(_Strict):
    """Giờ yên lặng: thông báo của cán bộ chờ đến hết giờ này; nhắc lịch sát giờ mở/đóng cửa sổ vẫn gửi."""

    start: ClockTime = time(22, 0)
    end: ClockTime = time(7, 0)
    timezone: str = "Asia/Ho_Chi_Minh"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"múi giờ không hợp lệ: {value}") from exc
        return value

    def contains(self, at: datetime) -> bool:
        """Whether ``at`` (aware) falls in the quiet hours; start == end means no quiet hours."""
        if self.start == self.end:
            return False
        clock = at.astimezone(ZoneInfo(self.timezone)).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end

    def release(self, at: datetime) -> datetime:
        """The first moment at or after ``at`` outside the quiet hours."""
        if not self.contains(at):
            return at
        zone = ZoneInfo(self.timezone)
        local = at.astimezone(zone)
        day = local.date() if local.time().replace(tzinfo=None) < self.end else local.date() + timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=zone).astimezone(at.tzinfo)


class Reminders(_Strict):
    """Khi nào nhắc người đăng ký. When subscribers are reminded (durations like 7d, 12h, 30m)."""

    enabled: bool = True
    misfire_grace_minutes: int = Field(
        default=30, gt=0, description="Lỡ giờ nhắc không quá chừng này (phút) thì gửi muộn; quá thì bỏ qua"
    )
    before_start: list[Duration] = Field(
        default_factory=lambda: [timedelta(days=7), timedelta(days=1), timedelta(hours=1)],
        description="Nhắc trước khi mỗi sự kiện bắt đầu (Tuần lễ và 60 giờ)",
    )
    at_start: bool = Field(default=True, description="Nhắc lúc mỗi sự kiện bắt đầu")
    during_every: Duration | None = Field(
        default=timedelta(hours=12), description="Nhắc định kỳ trong cửa sổ chính (60 giờ); trống = không"
    )
    before_end: list[Duration] = Field(
        default_factory=lambda: [timedelta(hours=1)], description="Nhắc trước khi cửa sổ chính kết thúc"
    )
    at_end: bool = Field(default=True, description="Nhắc lúc cửa sổ chính kết thúc")
    urgent_within: Duration = Field(
        default=timedelta(hours=1),
        description="Nhắc của cửa sổ chính cách giờ mở/đóng không quá chừng này thì gửi cả trong giờ yên lặng",
    )

    @field_validator("before_start", "before_end")
    @classmethod
    def _positive(cls, values: list[timedelta]) -> list[timedelta]:
        if any(value <= timedelta(0) for value in values):
            raise ValueError("thời lượng phải lớn hơn 0")
        return sorted(set(values), reverse=True)

    @field_validator("during_every")
    @classmethod
    def _at_least_an_hour(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(hours=1):
            raise ValueError("during_every phải từ 1 giờ trở lên")
        return value

    @property
    def grace(self) -> timedelta:
        return timedelta(minutes=self.misfire_grace_minutes)


class CountdownPost(_Strict):
    """Bài đếm ngược ghim trên kênh Telegram, sửa định kỳ. A pinned countdown post in a Telegram channel."""

    telegram_chat: str = Field(description="Kênh hoặc nhóm Telegram: @ten_kenh hoặc id số (-100…)")
    every_minutes: int = Field(default=15, description="Cập nhật bài mỗi chừng này phút (5 đến 1440)")

    @field_validator("telegram_chat")
    @classmethod
    def _chat(cls, value: str) -> str:
        value = value.strip()
        if not re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{3,}|-?\d+", value):
            raise ValueError(f"telegram_chat phải là @ten_kenh hoặc id số như -1001234567890, không phải '{value}'")
        return value

    @field_validator("every_minutes")
    @classmethod
    def _interval(cls, value: int) -> int:
        if not 5 <= value <= 1440:
            raise ValueError(f"every_minutes phải từ 5 đến 1440 (phút), không phải {value}")
        return value


class AppConfig(_Strict):
    department: Department
    campaigns: list[Campaign] = Field(min_length=1)
    areas: list[Area] = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)
    agencies: list[Agency] = Field(min_length=1)
    area_committees: dict[Slug, Slug] = Field(
        default_factory=dict, description="Địa bàn → id cơ quan (UBND) nhận bản sao"
    )
    area_units: AreaUnits | None = Field(
        default=None, description="Địa bàn = xã, phường hiện nay của tỉnh (từ gói dữ liệu), cộng các mục của areas"
    )
    staff: list[StaffEntry] = Field(default_factory=list)
    routing: list[RoutingRule] = Field(min_length=1)
    sla: list[Sla] = Field(default_factory=list)
    cases: Cases = Field(default_factory=Cases)
    limits: Limits = Field(default_factory=Limits)
    reminders: Reminders = Field(default_factory=Reminders)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    countdown_post: CountdownPost | None = Field(
        default=None, description="Bài đếm ngược ghim trên kênh Telegram; trống = tắt"
    )

    @model_validator(mode="before")
    @classmethod
    def _today_units(cls, raw: Any) -> Any:
        """With ``area_units``, today's communes and wards of the province join the areas written in the file."""
        units = raw.get("area_units") if isinstance(raw, dict) else None
        if not isinstance(units, dict) or not isinstance(units.get("province"), str):
            return raw
        try:
            found = province_units(units["province"])
        except ValueError as exc:
            raise ValueError(f"area_units.province: {exc}") from exc
        written = list(raw.get("areas") or [])
        return {**raw, "areas": [*written, *({"id": unit.id, "name": unit.name} for unit in found)]}

    @model_validator(mode="after")
    def _references(self) -> AppConfig:
        _unique("campaigns", [c.id for c in self.campaigns])
        _unique("areas", [a.id for a in self.areas])
        _unique("categories", [c.id for c in self.categories])
        agencies = _unique("agencies", [a.id for a in self.agencies])
        categories = {c.id for c in self.categories}
        areas = {a.id for a in self.areas}
        for i, member in enumerate(self.staff):
            if member.agency not in agencies:
                raise ValueError(f"staff[{i}].agency: không có cơ quan '{member.agency}'")
        for i, rule in enumerate(self.routing):
            for name in [rule.lead, *rule.copies]:
                if name not in agencies:
                    raise ValueError(f"routing[{i}]: không có cơ quan '{name}'")
            for name in rule.categories:
                if name not in categories:
                    raise ValueError(f"routing[{i}].categories: không có loại '{name}'")
            for name in rule.areas:
                if name not in areas:
                    raise ValueError(f"routing[{i}].areas: không có địa bàn '{name}'")
        for area, agency in self.area_committees.items():
            if area not in areas:
                raise ValueError(f"area_committees: không có địa bàn '{area}'")
            if agency not in agencies:
                raise ValueError(f"area_committees.{area}: không có cơ quan '{agency}'")
        for i, sla in enumerate(self.sla):
            if sla.category != "*" and sla.category not in categories:
                raise ValueError(f"sla[{i}].category: không có loại '{sla.category}'")
        if self.cases.coordinator is not None and self.cases.coordinator not in agencies:
            raise ValueError(f"cases.coordinator: không có cơ quan '{self.cases.coordinator}'")
        if self.area_units is not None:
            if self.area_units.outside not in areas:
                raise ValueError(f"area_units.outside: không có địa bàn '{self.area_units.outside}' trong areas")
            if self.area_units.committee is not None and self.area_units.committee not in agencies:
                raise ValueError(f"area_units.committee: không có cơ quan '{self.area_units.committee}'")
        return self

    def area_committee(self, area_id: str | None) -> str | None:
        """The people's committee that gets a copy of reports from ``area_id``, if any."""
        if area_id is None:
            return None
        if area_id in self.area_committees:
            return self.area_committees[area_id]
        units = self.area_units
        if units is None or units.committee is None or area_id == units.outside or self.area(area_id) is None:
            return None
        return units.committee

    def competent(self, day: date) -> dict[str, str]:
        """The knowledge base's placeholders for the Sở competent on ``day`` (``knowledge/placeholders.py``)."""
        department = self.department
        body = next((j for j in department.jurisdictions if j.covers(day)), department)
        return {
            "so": body.name,
            "tinh": f"tỉnh {body.province}",
            "so_web": body.portal,
            "so_dkkm": body.promotion_filing,
        }

    def area(self, area_id: str) -> Area | None:
        return next((a for a in self.areas if a.id == area_id), None)

    def agency(self, agency_id: str) -> Agency | None:
        return next((a for a in self.agencies if a.id == agency_id), None)


def _unique(field: str, ids: list[str]) -> set[str]:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise ValueError(f"{field}: id '{value}' bị trùng")
        seen.add(value)
    return seen


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid; the message names the field."""


def load_config(path: Path | str | None = None) -> AppConfig:
    path = Path(path) if path else DEFAULT_CONFIG_PATH
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"Không tìm thấy tệp cấu hình {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Không đọc được tệp cấu hình {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"Tệp cấu hình {path} không phải YAML hợp lệ: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"Tệp cấu hình {path} phải là một bảng YAML (mapping)")
    try:
        return AppConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(gốc)"
            lines.append(f"  - {where}: {error['msg']}")
        raise ConfigError(f"Tệp cấu hình {path} không hợp lệ:\n" + "\n".join(lines)) from exc
