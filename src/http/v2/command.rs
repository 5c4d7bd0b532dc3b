//! V2 bodies to commands (saas-v2.md §3–§9): every member is checked for presence, type and documented
//! length here, at the wire edge, with errors that name the member; inside, commands are typed.

use crate::callback::command::{
    ChangeInstanceCheck, Command, NewInstance, OrderRef, ProductSpec, QueryInstance, RefreshInstance, ReleaseInstance,
    UpdateInstanceStatus, UpgradeInstance,
};
use crate::domain::{InstanceId, OrderId, RefreshScene, StatusChange, parse_expire_time};
use crate::protocol::v2::request::{Activity, Fields, ParamError};

/// The command an activity's body carries.
pub fn command(activity: Activity, fields: &Fields) -> Result<Command, ParamError> {
    Ok(match activity {
        Activity::NewInstance => Command::NewInstance(NewInstance {
            order_id: OrderId::new(fields.required("orderId", 64)?),
            order_line_id: fields.required("orderLineId", 64)?,
            proposed_instance_id: InstanceId::new(fields.required("businessId", 64)?),
            order: None,
            buyer: None,
            order_product: None,
        }),
        Activity::QueryInstance => {
            // The documented length (100) cannot hold 100 IDs; each ID is checked instead.
            let list = fields.required("instanceId", usize::MAX)?;
            Command::QueryInstance(QueryInstance::from_list(&list).map_err(|refusal| ParamError(refusal.message))?)
        }
        Activity::RefreshInstance => {
            let instance_id = instance_id(fields)?;
            let scene_text = fields.required("scene", 64)?;
            let order = OrderRef { id: OrderId::new(fields.required("orderId", 64)?), line: Some(fields.required("orderLineId", 64)?) };
            let product_id = fields.optional("productId", 64)?;
            let expire_time_text = fields.required("expireTime", 20)?;
            let expire_time_ms = parse_expire_time(&expire_time_text)
                .ok_or_else(|| ParamError("expireTime must be a UTC time as yyyyMMddHHmmss (14 or 17 digits)".into()))?;
            Command::RefreshInstance(RefreshInstance {
                instance_id,
                scene: RefreshScene::parse(&scene_text),
                scene_label: scene_text.trim().to_owned(),
                order,
                product_id,
                expire_time_ms,
                expire_time_text,
            })
        }
        Activity::UpdateInstanceStatus => {
            let instance_id = instance_id(fields)?;
            let status = fields.required("status", 32)?;
            let change =
                StatusChange::parse(&status).ok_or_else(|| ParamError(format!("status must be FREEZE or UNFREEZE, got {status:?}")))?;
            Command::UpdateInstanceStatus(UpdateInstanceStatus { instance_id, change })
        }
        Activity::ReleaseInstance => {
            let instance_id = instance_id(fields)?;
            let (order_id, line) = (fields.optional("orderId", 64)?, fields.optional("orderLineId", 64)?);
            Command::ReleaseInstance(ReleaseInstance {
                instance_id,
                unsubscribe_order: order_id.map(|id| OrderRef { id: OrderId::new(id), line }),
            })
        }
        Activity::UpgradeInstance => Command::UpgradeInstance(UpgradeInstance {
            instance_id: instance_id(fields)?,
            order: OrderRef { id: OrderId::new(fields.required("orderId", 64)?), line: Some(fields.required("orderLineId", 64)?) },
            facts: None,
        }),
        Activity::ChangeInstanceCheck => {
            let instance_id = instance_id(fields)?;
            let info = fields.nested("productInfo")?;
            Command::ChangeInstanceCheck(ChangeInstanceCheck {
                instance_id,
                product: ProductSpec {
                    product_id: info.required("productId", 64)?,
                    sku_code: info.required("skuCode", 64)?,
                    linear_value: info.optional_integer("linearValue")?,
                    product_name: info.required("productName", 64)?,
                },
                verdict: None,
            })
        }
    })
}

fn instance_id(fields: &Fields) -> Result<InstanceId, ParamError> {
    Ok(InstanceId::new(fields.required("instanceId", 64)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    fn parse(activity: Activity, body: Value) -> Result<Command, String> {
        let object: Map<String, Value> = body.as_object().unwrap().clone();
        command(activity, &Fields::new(&object)).map_err(|error| error.0)
    }

    #[test]
    fn required_members_are_named_in_errors() {
        let new = Activity::NewInstance;
        assert_eq!(parse(new, json!({"orderId": "o", "orderLineId": 5})).unwrap_err(), "orderLineId must be a string");
        assert_eq!(parse(new, json!({"orderId": "o", "orderLineId": "l"})).unwrap_err(), "businessId is required");
        let long = json!({"orderId": "o".repeat(65), "orderLineId": "l", "businessId": "b"});
        assert_eq!(parse(new, long).unwrap_err(), "orderId exceeds 64 characters");
        for bad in ["o\u{0}", "o\n", "\u{7f}"] {
            let body = json!({"orderId": bad, "orderLineId": "l", "businessId": "b"});
            assert_eq!(parse(new, body).unwrap_err(), "orderId contains control characters");
        }
    }

    #[test]
    fn query_batch_is_split_trimmed_deduplicated_and_bounded() {
        let ids = |body| match parse(Activity::QueryInstance, body) {
            Ok(Command::QueryInstance(query)) => Ok(query.instance_ids.iter().map(|id| id.to_string()).collect::<Vec<_>>()),
            Ok(other) => panic!("{other:?}"),
            Err(error) => Err(error),
        };
        assert_eq!(ids(json!({"instanceId": " a, b,,a ,c"})).unwrap(), ["a", "b", "c"]);
        let many: Vec<String> = (0..101).map(|i| format!("i{i}")).collect();
        assert!(ids(json!({"instanceId": many.join(",")})).unwrap_err().contains("more than 100"));
        assert_eq!(ids(json!({"instanceId": " , "})).unwrap_err(), "instanceId is required");
        assert!(ids(json!({"instanceId": format!("a,{}", "x".repeat(65))})).unwrap_err().starts_with("instanceId"));
    }

    #[test]
    fn nested_product_info_members_are_named_with_their_path() {
        let check = Activity::ChangeInstanceCheck;
        let body = json!({"instanceId": "i", "productInfo": {"productId": "p", "skuCode": "s"}});
        assert_eq!(parse(check, body).unwrap_err(), "productInfo.productName is required");
        assert_eq!(parse(check, json!({"instanceId": "i", "productInfo": "x"})).unwrap_err(), "productInfo must be an object");
        let body = json!({"instanceId": "i", "productInfo": {"productId": "p", "skuCode": "s", "productName": "n", "linearValue": "x"}});
        assert_eq!(parse(check, body).unwrap_err(), "productInfo.linearValue must be an integer");
    }

    #[test]
    fn refresh_reads_its_expiry_and_scene() {
        let body = json!({"instanceId": "i", "scene": " RENEWAL ", "orderId": "o", "orderLineId": "l", "expireTime": "20300101000000"});
        let Ok(Command::RefreshInstance(refresh)) = parse(Activity::RefreshInstance, body) else { panic!() };
        assert_eq!((refresh.scene_label.as_str(), refresh.expire_time_ms), ("RENEWAL", 1_893_456_000_000));
        let body = json!({"instanceId": "i", "scene": "RENEWAL", "orderId": "o", "orderLineId": "l", "expireTime": "2030"});
        assert!(parse(Activity::RefreshInstance, body).unwrap_err().starts_with("expireTime must be"));
        let body = json!({"instanceId": "i", "status": "PAUSE"});
        assert_eq!(parse(Activity::UpdateInstanceStatus, body).unwrap_err(), "status must be FREEZE or UNFREEZE, got \"PAUSE\"");
    }
}
