//! Lifecycle events: what koogate tells the merchant's application (and keeps as each instance's
//! history). Written in the same transaction as the change they describe.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Created,
    Provisioned,
    Renewed,
    Frozen,
    Unfrozen,
    Upgraded,
    Released,
    Failed,
    /// The merchant's application refused the order.
    Refused,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "instance.created",
            EventType::Provisioned => "instance.provisioned",
            EventType::Renewed => "instance.renewed",
            EventType::Frozen => "instance.frozen",
            EventType::Unfrozen => "instance.unfrozen",
            EventType::Upgraded => "instance.upgraded",
            EventType::Released => "instance.released",
            EventType::Failed => "instance.failed",
            EventType::Refused => "instance.refused",
        }
    }

    pub const ALL: [EventType; 9] = [
        EventType::Created,
        EventType::Provisioned,
        EventType::Renewed,
        EventType::Frozen,
        EventType::Unfrozen,
        EventType::Upgraded,
        EventType::Released,
        EventType::Failed,
        EventType::Refused,
    ];

    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|event_type| event_type.as_str() == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique; receivers deduplicate by it (`webhook-id`).
    pub id: String,
    /// Order of recording (increasing); `None` until stored.
    pub sequence: Option<i64>,
    pub instance_id: String,
    pub event_type: EventType,
    pub occurred_at_ms: i64,
    pub test_flag: bool,
    /// What the application needs: instance, order, plan, expiry, status (never the marketplace's keys).
    pub data: Value,
}

impl Event {
    pub fn new(event_type: EventType, instance_id: &str, test_flag: bool, data: Value, now_ms: i64) -> Event {
        Event {
            sequence: None,
            id: uuid::Uuid::new_v4().to_string(),
            instance_id: instance_id.to_owned(),
            event_type,
            occurred_at_ms: now_ms,
            test_flag,
            data,
        }
    }
}
