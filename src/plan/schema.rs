//! The JSON Schema of the plan file, generated from the typed model.

use std::sync::OnceLock;

use serde_json::Value;

use super::model::Plan;

pub fn plan_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut schema = serde_json::to_value(schemars::schema_for!(Plan)).expect("the plan schema serialises");
        if let Some(object) = schema.as_object_mut() {
            object.insert("$id".into(), Value::String("urn:kiro-onboard:plan:v1".into()));
        }
        schema
    })
}
