//! Cron expressions as Unix writes them, and their firings in a time zone.
//!
//! Five fields, `minute hour day-of-month month weekday` (or six, with seconds first, for
//! schedules finer than a minute); each field a `*`, a number, a name (`jan`–`dec`,
//! `sun`–`sat`, any case), a range `a-b`, a step `*/n`, `a-b/n` or `a/n`, or a list of those
//! separated by commas. Weekdays are 0–7 with 0 and 7 Sunday and 1 Monday; `@hourly`,
//! `@daily` (`@midnight`), `@weekly`, `@monthly` and `@yearly` (`@annually`) are shortcuts.
//! As in Unix cron, when both the day of month and the weekday are restricted (neither begins
//! with `*`) a day matching either fires (`0 0 1 * mon`: the first of the month and every
//! Monday).
//!
//! Firings are local times of the zone: a local time the clock skips (spring forward) fires
//! once at the moment the clock jumps, and a local time that happens twice (fall back) fires
//! once, at its first occurrence.
//!
//! Written here rather than with the `cron` crate, which numbers weekdays 1–7 from Sunday,
//! refuses 0, and requires a day to match both day fields.
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;

/// A parsed cron expression: the allowed values of each field as bit sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Neither day field begins with `*`: a day matching either fires.
    either_day: bool,
}

/// One field's description: its name for messages, its range and its names.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    allowed: &'static str,
}

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
    allowed: "0–59",
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    allowed: "0–59",
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    allowed: "0–23",
};
const DAY: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
    allowed: "1–31",
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    allowed: "1–12 or jan–dec",
};
const WEEKDAY: Field = Field {
    name: "weekday",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    allowed: "0–7 or sun–sat; 0 and 7 are Sunday",
};

impl Field {
    fn value(&self, text: &str) -> Result<u32, String> {
        let lower = text.to_ascii_lowercase();
        if let Some(i) = self.names.iter().position(|n| *n == lower) {
            // Months are named from 1, weekdays from 0: each field's minimum.
            return Ok(self.min + i as u32);
        }
        match text.parse::<u32>() {
            Ok(v) if (self.min..=self.max).contains(&v) => Ok(v),
            _ => Err(format!(
                "{} must be {} (got \"{text}\")",
                self.name, self.allowed
            )),
        }
    }

    /// The bit set of `text`, one field of an expression.
    fn parse(&self, text: &str) -> Result<u64, String> {
        let mut set = 0u64;
        for item in text.split(',') {
            if item.is_empty() {
                return Err(format!(
                    "{} has an empty item in \"{text}\" (two commas, or one at an end)",
                    self.name
                ));
            }
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => {
                    let step = s.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!(
                            "{}: the step after \"/\" must be a whole number from 1 (got \"{s}\")",
                            self.name
                        )
                    })?;
                    (r, Some(step))
                }
                None => (item, None),
            };
            // `*` spans the field; for weekdays that is 0–6 (7 is Sunday again).
            let top = if self.max == 7 { 6 } else { self.max };
            let (low, high) = if range == "*" {
                (self.min, top)
            } else if let Some((a, b)) = range.split_once('-') {
                let (a, b) = (self.value(a)?, self.value(b)?);
                if a > b {
                    return Err(format!(
                        "{}: the range \"{range}\" goes backwards; write the lower end first",
                        self.name
                    ));
                }
                (a, b)
            } else {
                let a = self.value(range)?;
                // `a/n` runs from `a` to the field's end.
                (a, if step.is_some() { top } else { a })
            };
            let step = step.unwrap_or(1);
            let mut v = low;
            while v <= high {
                set |= 1 << v;
                v += step;
            }
        }
        if self.max == 7 && set & (1 << 7) != 0 {
            set = (set & !(1 << 7)) | 1;
        }
        Ok(set)
    }
}

fn has(set: u64, v: u32) -> bool {
    set & (1u64 << v) != 0
}

/// Parses a cron expression; the message of an error names the field and what it allows.
pub fn parse(expression: &str) -> Result<Cron, String> {
    let trimmed = expression.trim();
    let expanded = match trimmed.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other if other.starts_with('@') => {
            return Err(format!(
                "unknown shortcut \"{trimmed}\": use @hourly, @daily, @weekly, @monthly or \
                 @yearly"
            ));
        }
        _ => trimmed,
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    let (seconds, rest) = match fields.len() {
        5 => ("0", &fields[..]),
        6 => (fields[0], &fields[1..]),
        n => {
            return Err(format!(
                "expected 5 fields (minute hour day-of-month month weekday), or 6 with seconds \
                 first; got {n}"
            ));
        }
    };
    Ok(Cron {
        seconds: SECOND.parse(seconds)?,
        minutes: MINUTE.parse(rest[0])?,
        hours: HOUR.parse(rest[1])?,
        days: DAY.parse(rest[2])?,
        months: MONTH.parse(rest[3])?,
        weekdays: WEEKDAY.parse(rest[4])?,
        either_day: !rest[2].starts_with('*') && !rest[4].starts_with('*'),
    })
}

impl Cron {
    /// Whether `date` is a day the expression fires on.
    pub fn fires_on(&self, date: NaiveDate) -> bool {
        if !has(self.months, date.month()) {
            return false;
        }
        let day = has(self.days, date.day());
        let weekday = has(self.weekdays, date.weekday().num_days_from_sunday());
        if self.either_day {
            day || weekday
        } else {
            day && weekday
        }
    }

    /// The first time of day at or after `from` the expression fires at.
    fn first_time_from(&self, from: NaiveTime) -> Option<NaiveTime> {
        for h in from.hour()..24 {
            if !has(self.hours, h) {
                continue;
            }
            let m0 = if h == from.hour() { from.minute() } else { 0 };
            for m in m0..60 {
                if !has(self.minutes, m) {
                    continue;
                }
                let s0 = if h == from.hour() && m == from.minute() {
                    from.second()
                } else {
                    0
                };
                if let Some(s) = (s0..60).find(|s| has(self.seconds, *s)) {
                    return NaiveTime::from_hms_opt(h, m, s);
                }
            }
        }
        None
    }

    /// The first local time strictly after `after` the expression fires at, no later than
    /// `last_day`.
    pub fn next_local(&self, after: NaiveDateTime, last_day: NaiveDate) -> Option<NaiveDateTime> {
        let start = after.with_nanosecond(0)? + Duration::seconds(1);
        let mut date = start.date();
        let mut from = start.time();
        while date <= last_day {
            if self.fires_on(date)
                && let Some(time) = self.first_time_from(from)
            {
                return Some(date.and_time(time));
            }
            date = date.succ_opt()?;
            from = NaiveTime::MIN;
        }
        None
    }

    /// The first firing strictly after `after`, in `zone`, within `horizon_days`.
    pub fn next_after(
        &self,
        zone: Tz,
        after: DateTime<Utc>,
        horizon_days: i64,
    ) -> Option<DateTime<Utc>> {
        let mut local = after.with_timezone(&zone).naive_local();
        let last_day = local.date() + Duration::days(horizon_days);
        loop {
            let candidate = self.next_local(local, last_day)?;
            let instant = match zone.from_local_datetime(&candidate) {
                LocalResult::Single(t) => t.with_timezone(&Utc),
                // Twice on the clock: the first occurrence.
                LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
                // Skipped by the clock: the moment it jumps.
                LocalResult::None => jump_instant(zone, candidate),
            };
            if instant > after {
                return Some(instant);
            }
            local = candidate;
        }
    }

    /// The firings strictly after `after`, in `zone`, within `horizon_days` of it.
    pub fn firings(
        &self,
        zone: Tz,
        after: DateTime<Utc>,
        horizon_days: i64,
    ) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let horizon = after + Duration::days(horizon_days);
        let mut last = after;
        std::iter::from_fn(move || {
            let next = self
                .next_after(zone, last, horizon_days)
                .filter(|n| *n <= horizon)?;
            last = next;
            Some(next)
        })
    }
}

/// The instant the clock of `zone` jumps over `local` (a local time it skips): the first
/// instant whose local time is at or after `local`.
fn jump_instant(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let at = |secs: i64| {
        Utc.timestamp_opt(secs, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    };
    let as_utc = local.and_utc().timestamp();
    // Offsets are within ±15 hours, so the answer lies in this window of whole seconds.
    let (mut low, mut high) = (as_utc - 16 * 3600, as_utc + 16 * 3600);
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if at(mid).with_timezone(&zone).naive_local() >= local {
            high = mid;
        } else {
            low = mid;
        }
    }
    at(high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn next3(expr: &str, zone: &str, after: DateTime<Utc>) -> Vec<String> {
        let zone: Tz = zone.parse().unwrap();
        parse(expr)
            .unwrap()
            .firings(zone, after, 3660)
            .take(3)
            .map(|t| {
                t.with_timezone(&zone)
                    .format("%a %Y-%m-%d %H:%M:%S %Z")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn weekdays_are_unix_numbers_and_names() {
        // Thursday 3 December 2026.
        let after = utc(2026, 12, 3, 12, 0);
        let mondays = [
            "Mon 2026-12-07 03:00:00 UTC",
            "Mon 2026-12-14 03:00:00 UTC",
            "Mon 2026-12-21 03:00:00 UTC",
        ];
        for expr in ["0 3 * * 1", "0 3 * * mon", "0 3 * * MON", "0 3 * * Mon"] {
            assert_eq!(next3(expr, "UTC", after), mondays, "{expr}");
        }
        let sundays = [
            "Sun 2026-12-06 03:00:00 UTC",
            "Sun 2026-12-13 03:00:00 UTC",
            "Sun 2026-12-20 03:00:00 UTC",
        ];
        for expr in ["0 3 * * 0", "0 3 * * 7", "0 3 * * sun", "0 3 * * SUN"] {
            assert_eq!(next3(expr, "UTC", after), sundays, "{expr}");
        }
    }

    #[test]
    fn weekday_sets_from_ranges_lists_and_steps() {
        let days = |expr: &str| -> Vec<u32> {
            let c = parse(expr).unwrap();
            (0..7).filter(|d| has(c.weekdays, *d)).collect()
        };
        assert_eq!(days("0 0 * * 1-5"), [1, 2, 3, 4, 5]);
        assert_eq!(days("0 0 * * mon-fri"), [1, 2, 3, 4, 5]);
        assert_eq!(days("0 0 * * 5-7"), [0, 5, 6]);
        assert_eq!(days("0 0 * * 0-6"), [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(days("0 0 * * 0-7"), [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(days("0 0 * * */2"), [0, 2, 4, 6]);
        assert_eq!(days("0 0 * * 1-7/2"), [0, 1, 3, 5]);
        assert_eq!(days("0 0 * * sat,sun"), [0, 6]);
        assert_eq!(days("0 0 * * 6,7"), [0, 6]);
        assert_eq!(days("0 0 * * 2/2"), [2, 4, 6]);
    }

    #[test]
    fn months_by_name_and_number() {
        let after = utc(2026, 12, 3, 12, 0);
        assert_eq!(
            next3("30 6 1 jan,JUL *", "UTC", after),
            [
                "Fri 2027-01-01 06:30:00 UTC",
                "Thu 2027-07-01 06:30:00 UTC",
                "Sat 2028-01-01 06:30:00 UTC"
            ]
        );
        assert_eq!(
            next3("30 6 1 1,7 *", "UTC", after),
            next3("30 6 1 jan,jul *", "UTC", after)
        );
    }

    #[test]
    fn either_day_field_fires_when_both_are_restricted() {
        // The 1st and 15th of the month, and every Friday: December 2026 has Fridays 4, 11, 18.
        let after = utc(2026, 12, 1, 12, 0);
        assert_eq!(
            next3("0 9 1,15 * fri", "UTC", after),
            [
                "Fri 2026-12-04 09:00:00 UTC",
                "Fri 2026-12-11 09:00:00 UTC",
                "Tue 2026-12-15 09:00:00 UTC"
            ]
        );
        // A `*` in either day field: the other one alone decides.
        assert_eq!(
            next3("0 9 * * fri", "UTC", after)[..2],
            ["Fri 2026-12-04 09:00:00 UTC", "Fri 2026-12-11 09:00:00 UTC"]
        );
        assert_eq!(
            next3("0 9 */10 * 5", "UTC", after),
            // Vixie cron: a day field beginning with `*` means "and": the 1st, 11th, 21st and
            // 31st that are Fridays.
            [
                "Fri 2026-12-11 09:00:00 UTC",
                "Fri 2027-01-01 09:00:00 UTC",
                "Fri 2027-05-21 09:00:00 UTC"
            ]
        );
        // 30 February never comes, but the Mondays of February do.
        assert_eq!(
            next3("0 0 30 2 mon", "UTC", after)[0],
            "Mon 2027-02-01 00:00:00 UTC"
        );
    }

    #[test]
    fn shortcuts_and_seconds() {
        let after = utc(2026, 12, 3, 12, 0);
        assert_eq!(
            next3("@weekly", "UTC", after)[0],
            "Sun 2026-12-06 00:00:00 UTC"
        );
        assert_eq!(
            next3("@daily", "UTC", after)[0],
            "Fri 2026-12-04 00:00:00 UTC"
        );
        assert_eq!(
            next3("@hourly", "UTC", after)[0],
            "Thu 2026-12-03 13:00:00 UTC"
        );
        assert_eq!(
            next3("@monthly", "UTC", after)[0],
            "Fri 2027-01-01 00:00:00 UTC"
        );
        assert_eq!(
            next3("@yearly", "UTC", after)[0],
            "Fri 2027-01-01 00:00:00 UTC"
        );
        assert_eq!(
            next3("*/20 * * * * *", "UTC", after),
            [
                "Thu 2026-12-03 12:00:20 UTC",
                "Thu 2026-12-03 12:00:40 UTC",
                "Thu 2026-12-03 12:01:00 UTC"
            ]
        );
    }

    #[test]
    fn mondays_in_berlin_across_daylight_saving() {
        // Daylight saving in Berlin ends on Sunday 25 October 2026; 03:00 stays 03:00 local.
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        let firings: Vec<DateTime<Utc>> = parse("0 3 * * 1")
            .unwrap()
            .firings(zone, utc(2026, 10, 14, 0, 0), 400)
            .take(3)
            .collect();
        assert_eq!(
            firings,
            [
                utc(2026, 10, 19, 1, 0),
                utc(2026, 10, 26, 2, 0),
                utc(2026, 11, 2, 2, 0)
            ]
        );
        for f in &firings {
            let local = f.with_timezone(&zone);
            assert_eq!((local.weekday(), local.hour()), (Weekday::Mon, 3));
        }
    }

    #[test]
    fn skipped_and_repeated_local_times_fire_once() {
        let zone = "Europe/Berlin";
        // 29 March 2026: 02:00 CET jumps to 03:00 CEST; 02:30 fires at the jump (01:00 UTC).
        assert_eq!(
            next3("30 2 * * *", zone, utc(2026, 3, 28, 12, 0)),
            [
                "Sun 2026-03-29 03:00:00 CEST",
                "Mon 2026-03-30 02:30:00 CEST",
                "Tue 2026-03-31 02:30:00 CEST"
            ]
        );
        // Every 20 minutes over the jump: the skipped hour's three slots fire once, at 03:00.
        assert_eq!(
            next3("*/20 * * * *", zone, utc(2026, 3, 29, 0, 50)),
            [
                "Sun 2026-03-29 03:00:00 CEST",
                "Sun 2026-03-29 03:20:00 CEST",
                "Sun 2026-03-29 03:40:00 CEST"
            ]
        );
        // 25 October 2026: 02:30 happens twice (CEST, then CET); it fires at the first.
        assert_eq!(
            next3("30 2 * * *", zone, utc(2026, 10, 24, 12, 0)),
            [
                "Sun 2026-10-25 02:30:00 CEST",
                "Mon 2026-10-26 02:30:00 CET",
                "Tue 2026-10-27 02:30:00 CET"
            ]
        );
        // Hourly through the repeated hour: 02:00 once, then 03:00 CET.
        assert_eq!(
            next3("0 * * * *", zone, utc(2026, 10, 24, 23, 30)),
            [
                "Sun 2026-10-25 02:00:00 CEST",
                "Sun 2026-10-25 03:00:00 CET",
                "Sun 2026-10-25 04:00:00 CET"
            ]
        );
    }

    #[test]
    fn errors_name_the_field_and_its_range() {
        let cases = [
            (
                "0 3 * * 8",
                "weekday must be 0–7 or sun–sat; 0 and 7 are Sunday (got \"8\")",
            ),
            ("0 3 * * sunday", "weekday must be 0–7 or sun–sat"),
            ("60 3 * * *", "minute must be 0–59 (got \"60\")"),
            ("0 24 * * *", "hour must be 0–23"),
            ("0 3 0 * *", "day of month must be 1–31 (got \"0\")"),
            ("0 3 * 13 *", "month must be 1–12 or jan–dec"),
            ("0 3 * * 5-1", "the range \"5-1\" goes backwards"),
            (
                "*/0 * * * *",
                "the step after \"/\" must be a whole number from 1",
            ),
            ("0 3 * *", "expected 5 fields"),
            ("0 0 0 1 1 * 2020", "got 7"),
            ("@often", "unknown shortcut"),
            ("0,,5 3 * * *", "empty item"),
            ("61 0 3 * * *", "second must be 0–59"),
        ];
        for (expr, message) in cases {
            let err = parse(expr).unwrap_err();
            assert!(err.contains(message), "{expr}: {err}");
        }
    }

    /// Every firing over a year against a minute-by-minute check of what Unix cron means.
    #[test]
    fn firings_agree_with_a_minute_by_minute_oracle() {
        type Oracle = fn(&NaiveDateTime) -> bool;
        let cases: [(&str, Oracle); 6] = [
            ("*/15 9-17 * * mon-fri", |t| {
                t.minute() % 15 == 0
                    && (9..=17).contains(&t.hour())
                    && (1..=5).contains(&t.weekday().num_days_from_sunday())
            }),
            ("0 3 * * 1", |t| {
                (t.hour(), t.minute(), t.weekday()) == (3, 0, Weekday::Mon)
            }),
            ("30 22 * * 0,6", |t| {
                (t.hour(), t.minute()) == (22, 30)
                    && matches!(t.weekday(), Weekday::Sat | Weekday::Sun)
            }),
            ("0 12 1,15 * fri", |t| {
                (t.hour(), t.minute()) == (12, 0)
                    && (t.day() == 1 || t.day() == 15 || t.weekday() == Weekday::Fri)
            }),
            ("5 */6 */2 feb-apr *", |t| {
                t.minute() == 5
                    && t.hour() % 6 == 0
                    && t.day() % 2 == 1
                    && (2..=4).contains(&t.month())
            }),
            ("0 0 31 * *", |t| {
                (t.hour(), t.minute(), t.day()) == (0, 0, 31)
            }),
        ];
        let start = utc(2027, 1, 1, 0, 0);
        for (expr, oracle) in cases {
            let expected: Vec<DateTime<Utc>> = (1..=366 * 24 * 60)
                .map(|m| start + Duration::minutes(m))
                .filter(|t| oracle(&t.naive_utc()))
                .collect();
            let got: Vec<DateTime<Utc>> = parse(expr)
                .unwrap()
                .firings(Tz::UTC, start, 366)
                .take_while(|t| *t <= *expected.last().unwrap())
                .collect();
            assert_eq!(got, expected, "{expr}");
        }
    }

    #[test]
    fn never_firing_expressions_end() {
        let c = parse("0 0 30 2 *").unwrap();
        assert_eq!(c.next_after(Tz::UTC, utc(2026, 1, 1, 0, 0), 5 * 366), None);
        let leap = parse("0 0 29 2 *").unwrap();
        assert_eq!(
            leap.next_after(Tz::UTC, utc(2026, 1, 1, 0, 0), 5 * 366),
            Some(utc(2028, 2, 29, 0, 0))
        );
    }
}
