//! What an invocation carries: an EventBridge RDS-EVENT-0161, the same event inside SQS
//! records (the older deployment), or an S3 Batch Operations job ([`crate::batch`]).

use aws_lambda_events::event::sqs::SqsEvent;
use liberator_engine::ExportId;
use liberator_lambda_common::RdsEvent;
use liberator_lambda_common::rds_event;
use serde_json::Value;

use crate::{Copier, Error, Invocation};

/// The kind of payload an invocation carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// One EventBridge event (RDS-EVENT-0161).
    EventBridge,
    /// SQS records whose bodies are EventBridge events.
    Sqs,
    /// An S3 Batch Operations invocation (one key per task).
    Batch,
}

impl Payload {
    /// Tells the kinds apart by their top-level members.
    pub fn of(v: &Value) -> Payload {
        if v.get("Records").is_some_and(Value::is_array) {
            Payload::Sqs
        } else if v.get("tasks").is_some_and(Value::is_array) && v.get("job").is_some() {
            Payload::Batch
        } else {
            Payload::EventBridge
        }
    }
}

/// An RDS-EVENT-0161 and the export it names.
pub fn export_completed(event: &Value) -> Result<(RdsEvent, ExportId), Error> {
    let e = RdsEvent::parse(event)?.expect(rds_event::EXPORT_COMPLETED)?;
    let export_id =
        ExportId::parse(&e.source_identifier).map_err(|source| Error::BadIdentifier {
            event: e.id.clone(),
            source: Box::new(source.into()),
        })?;
    Ok((e, export_id))
}

/// SQS: each record's body is an EventBridge event. Every record is processed; any
/// failure fails the invocation so the batch is retried (a partial-batch answer would
/// drop failed messages where the event source mapping does not report item failures).
pub(crate) async fn sqs(
    copier: &Copier,
    payload: &Value,
    inv: &Invocation,
) -> Result<Value, Error> {
    let event: SqsEvent = serde_json::from_value(payload.clone()).map_err(|e| Error::SqsBody {
        message_id: "(batch)".into(),
        reason: e.to_string(),
    })?;
    let total = event.records.len();
    let mut answers = Vec::new();
    let mut errors = Vec::new();
    for record in &event.records {
        let message_id = record
            .message_id
            .clone()
            .unwrap_or_else(|| "(no id)".into());
        let body: Result<Value, Error> = serde_json::from_str(record.body.as_deref().unwrap_or(""))
            .map_err(|e| Error::SqsBody {
                message_id: message_id.clone(),
                reason: e.to_string(),
            });
        match async { copier.handle_export(&body?, inv).await }.await {
            Ok(a) => answers.push(serde_json::to_value(a).expect("answers serialize")),
            Err(e) => {
                tracing::error!(message_id, error = %e, "SQS record failed");
                errors.push(format!("{message_id}: {e}"));
            }
        }
    }
    if errors.is_empty() {
        Ok(serde_json::json!({ "records": answers }))
    } else {
        Err(Error::SqsRecords {
            failed: errors.len(),
            total,
            errors: errors.join("; "),
        })
    }
}
