//! RDS events as EventBridge delivers them (`detail-type: RDS DB Snapshot Event`).

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// Manual snapshot created.
pub const SNAPSHOT_CREATED: &str = "RDS-EVENT-0042";
/// Snapshot export to S3 completed.
pub const EXPORT_COMPLETED: &str = "RDS-EVENT-0161";

/// The `detail` of an RDS event (PascalCase, as RDS writes it).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RdsDetail {
    #[serde(rename = "EventID")]
    pub event_id: Option<String>,
    pub source_identifier: Option<String>,
    pub source_arn: Option<String>,
    pub source_type: Option<String>,
    pub message: Option<String>,
}

/// The parts of an RDS event the Lambdas act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsEvent {
    /// The EventBridge event id (for logs; re-deliveries repeat it).
    pub id: String,
    /// `RDS-EVENT-0042`, `RDS-EVENT-0161`, …
    pub event_id: String,
    /// The snapshot (and export task) identifier.
    pub source_identifier: String,
    /// The snapshot ARN.
    pub source_arn: String,
    pub message: Option<String>,
}

impl RdsEvent {
    /// Parses an EventBridge RDS event; errors say what is missing.
    pub fn parse(value: &Value) -> Result<Self> {
        let id = value
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("(no id)")
            .to_string();
        match value.get("detail") {
            None | Some(Value::Null) => return Err(Error::NoDetail { event_id: id }),
            Some(d) if !d.is_object() => {
                return Err(Error::NotAnEvent {
                    event_id: id,
                    reason: "`detail` is not an object".into(),
                });
            }
            Some(_) => {}
        }
        let event: CloudWatchEvent<RdsDetail> =
            serde_json::from_value(value.clone()).map_err(|e| Error::NotAnEvent {
                event_id: id.clone(),
                reason: e.to_string(),
            })?;
        let detail = event.detail.unwrap_or_default();
        let missing = |field| Error::MissingField {
            event_id: id.clone(),
            field,
        };
        let source_identifier = detail
            .source_identifier
            .ok_or_else(|| missing("SourceIdentifier"))?;
        // The ARN is also the event's only resource; older payloads carried only that.
        let source_arn = detail
            .source_arn
            .or_else(|| event.resources.first().cloned())
            .ok_or_else(|| missing("SourceArn"))?;
        Ok(RdsEvent {
            event_id: detail.event_id.ok_or_else(|| missing("EventID"))?,
            id,
            source_identifier,
            source_arn,
            message: detail.message,
        })
    }

    /// Checks the EventID (case-insensitively: RDS has always sent upper case, but a
    /// hand-written test event should not fail on case alone).
    pub fn expect(self, expected: &'static str) -> Result<Self> {
        if self.event_id.eq_ignore_ascii_case(expected) {
            Ok(self)
        } else {
            Err(Error::WrongEventId {
                event_id: self.id,
                source_identifier: self.source_identifier,
                got: self.event_id,
                expected,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(detail: Value) -> Value {
        json!({
            "version": "0", "id": "ev-1", "detail-type": "RDS DB Snapshot Event",
            "source": "aws.rds", "account": "123456789012", "time": "2024-06-04T10:21:44Z",
            "region": "eu-west-2",
            "resources": ["arn:aws:rds:eu-west-2:123456789012:snapshot:s1"],
            "detail": detail,
        })
    }

    #[test]
    fn parses_the_shared_sample_events() {
        // Runtime, not env!(): a reused test binary must not point at the checkout it was built in.
        let manifest = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
        let dir = format!("{manifest}/../../../shared/events/");
        let text = std::fs::read_to_string(format!("{dir}rds-event-0161-export-completed.json"))
            .expect("shared/events beside the repository");
        let e = RdsEvent::parse(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(e.event_id, EXPORT_COMPLETED);
        assert_eq!(e.source_identifier, "sql-to-parquet-24-06-04-101500");
        assert!(
            e.source_arn
                .ends_with(":snapshot:sql-to-parquet-24-06-04-101500")
        );
        let text =
            std::fs::read_to_string(format!("{dir}rds-event-0042-snapshot-created.json")).unwrap();
        let e = RdsEvent::parse(&serde_json::from_str(&text).unwrap()).unwrap();
        assert!(e.expect(SNAPSHOT_CREATED).is_ok());
    }

    #[test]
    fn missing_detail_is_a_clear_error() {
        let mut v = event(json!({}));
        v.as_object_mut().unwrap().remove("detail");
        let err = RdsEvent::parse(&v).unwrap_err();
        assert!(matches!(err, Error::NoDetail { .. }), "{err}");
        assert!(err.to_string().contains("ev-1"), "{err}");
    }

    #[test]
    fn wrong_event_id_names_both() {
        let v = event(
            json!({"EventID": "RDS-EVENT-0042", "SourceIdentifier": "s1", "SourceArn": "arn"}),
        );
        let err = RdsEvent::parse(&v)
            .unwrap()
            .expect(EXPORT_COMPLETED)
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("RDS-EVENT-0042") && msg.contains("RDS-EVENT-0161") && msg.contains("s1"),
            "{msg}"
        );
    }

    #[test]
    fn missing_identifier_and_arn_fallback() {
        let v = event(json!({"EventID": "RDS-EVENT-0161"}));
        let err = RdsEvent::parse(&v).unwrap_err();
        assert!(err.to_string().contains("SourceIdentifier"), "{err}");
        let v = event(json!({"EventID": "RDS-EVENT-0161", "SourceIdentifier": "s1"}));
        let e = RdsEvent::parse(&v).unwrap();
        assert_eq!(
            e.source_arn,
            "arn:aws:rds:eu-west-2:123456789012:snapshot:s1"
        );
    }
}
