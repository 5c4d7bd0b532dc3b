//! `koogate sim sign`: a ready `curl` command for one V2 call (or one V1 GET call), signed as the
//! marketplace signs it, for merchants who debug their endpoint by hand.

use super::run::{fresh_nonce, signed_url, signed_v1_query, v1_time_stamp};
use crate::protocol::canonical::canonical_c1;
use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

/// A body for `activity` with plausible made-up members (a debug call unless `testFlag` is overridden),
/// with `overrides` (`name=value`) applied on top.
pub fn template(activity: &str, overrides: &[String]) -> anyhow::Result<Value> {
    let order = format!("CS{}", &uuid::Uuid::new_v4().simple().to_string()[..14].to_uppercase());
    let line = format!("{order}-000001");
    let instance = "replace-with-an-instance-id";
    let expire = crate::domain::utc_compact(crate::now_ms() + 30 * 86_400_000);
    let mut body = match activity {
        "newInstance" => json!({"orderId": order, "orderLineId": line, "businessId": uuid::Uuid::new_v4().to_string()}),
        "queryInstance" => json!({"instanceId": instance}),
        "refreshInstance" => {
            json!({"instanceId": instance, "scene": "RENEWAL", "orderId": order, "orderLineId": line, "expireTime": expire})
        }
        "updateInstanceStatus" => json!({"instanceId": instance, "status": "FREEZE"}),
        "releaseInstance" => json!({"instanceId": instance}),
        "upgradeInstance" => json!({"instanceId": instance, "orderId": order, "orderLineId": line}),
        "changeInstanceCheck" => {
            json!({"instanceId": instance, "productInfo": {"productId": "OFFI000000000002", "skuCode": "sku-pro", "linearValue": 10, "productName": "Pro"}})
        }
        other => bail!("unknown activity {other:?}; use --body for anything else"),
    };
    body["activity"] = json!(activity);
    body["testFlag"] = json!("1");
    let object = body.as_object_mut().expect("templates are objects");
    for assignment in overrides {
        let (name, value) = assignment.split_once('=').with_context(|| format!("--set takes name=value, got {assignment:?}"))?;
        if value.is_empty() {
            object.remove(name);
        } else if value.starts_with(['{', '[']) {
            // Objects and arrays (e.g. productInfo) as JSON; everything else stays a string, like the
            // marketplace's own members (testFlag "1").
            let parsed: Value = serde_json::from_str(value).with_context(|| format!("--set {name}: not valid JSON"))?;
            object.insert(name.to_owned(), parsed);
        } else {
            object.insert(name.to_owned(), json!(value));
        }
    }
    Ok(body)
}

/// The `curl` command: the body exactly as signed (top-level members sorted, compact).
pub fn curl_command(url: &str, key: &str, body: &Map<String, Value>) -> String {
    let bytes = canonical_c1(body);
    let signed = signed_url(url, key, &bytes, &fresh_nonce(), &crate::now_ms().to_string());
    format!(
        "curl -sS -X POST {} -H 'Content-Type: application/json;charset=utf8' --data-raw {}",
        shell_quote(&signed),
        shell_quote(&String::from_utf8_lossy(&bytes))
    )
}

/// The query parameters of a V1 debug call for `activity` with made-up values, with `overrides`
/// (`name=value`; `name=` removes) applied on top.
pub fn v1_template(activity: &str, overrides: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let order = format!("CS{}", &uuid::Uuid::new_v4().simple().to_string()[..14].to_uppercase());
    let instance = "huaweitest123456";
    let expire = crate::domain::utc_compact(crate::now_ms() + 30 * 86_400_000);
    let members: Vec<(&str, String)> = match activity {
        "newInstance" => vec![
            ("customerId", "68cbc86abc2018ab880d92f36422fa0e".into()),
            ("businessId", uuid::Uuid::new_v4().to_string()),
            ("orderId", order),
            ("skuCode", "sku-basic".into()),
            ("productId", "OFFI000000000001".into()),
            ("chargingMode", "1".into()),
            ("expireTime", expire),
        ],
        "queryInstance" => vec![("instanceId", instance.into())],
        "refreshInstance" => vec![("instanceId", instance.into()), ("orderId", order), ("expireTime", expire)],
        "expireInstance" | "releaseInstance" => vec![("instanceId", instance.into()), ("orderId", order)],
        "upgrade" => vec![
            ("instanceId", instance.into()),
            ("orderId", order),
            ("skuCode", "sku-pro".into()),
            ("productId", "OFFI000000000002".into()),
        ],
        "instanceStatus" => vec![("instanceId", instance.into()), ("instanceStatus", "FREEZE".into())],
        other => bail!(
            "unknown V1 activity {other:?}: newInstance, queryInstance, refreshInstance, expireInstance, releaseInstance, upgrade, instanceStatus"
        ),
    };
    let mut params: Vec<(String, String)> = vec![("activity".into(), activity.into())];
    params.extend(members.into_iter().map(|(name, value)| (name.to_owned(), value)));
    params.push(("testFlag".into(), "1".into()));
    for assignment in overrides {
        let (name, value) = assignment.split_once('=').with_context(|| format!("--set takes name=value, got {assignment:?}"))?;
        params.retain(|(existing, _)| existing != name);
        if !value.is_empty() {
            params.push((name.to_owned(), value.to_owned()));
        }
    }
    Ok(params)
}

/// The `curl` command of a V1 call: a GET with `timeStamp` and `authToken` in the query.
pub fn v1_curl_command(url: &str, key: &str, params: &[(String, String)]) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("curl -sS -i {}", shell_quote(&format!("{url}{separator}{}", signed_v1_query(params, key, &v1_time_stamp()))))
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn v1_templates_are_debug_calls_with_overrides() {
        let params = super::v1_template("instanceStatus", &["instanceStatus=NORMAL".into(), "testFlag=".into()]).unwrap();
        let names: Vec<&str> = params.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["activity", "instanceId", "instanceStatus"]);
        assert_eq!(params[2].1, "NORMAL");
        let curl = super::v1_curl_command("http://127.0.0.1:8080/saasproduce", "k", &params);
        assert!(
            curl.starts_with("curl -sS -i 'http://127.0.0.1:8080/saasproduce?activity=instanceStatus&") && curl.contains("&authToken=")
        );
        assert!(super::v1_template("getLicense", &[]).is_err());
    }

    use super::*;

    #[test]
    fn templates_take_overrides_and_removals() {
        let body = template("newInstance", &["orderId=O1".into(), "testFlag=".into(), r#"productInfo={"skuCode":"s"}"#.into()]).unwrap();
        assert_eq!(body["productInfo"]["skuCode"], "s");
        assert_eq!(body["orderId"], "O1");
        assert!(body.get("testFlag").is_none());
        assert_eq!(body["activity"], "newInstance");
        assert!(template("nope", &[]).is_err());
        assert!(template("queryInstance", &["bad".into()]).is_err());
    }

    #[test]
    fn the_command_quotes_for_the_shell_and_signs_the_sent_bytes() {
        let body: Map<String, Value> = serde_json::from_str(r#"{"b":"it's","a":1}"#).unwrap();
        let command = curl_command("http://127.0.0.1:8080/", "k", &body);
        assert!(command.contains(r#"--data-raw '{"a":1,"b":"it'\''s"}'"#), "{command}");
        assert!(command.contains("signature="));
    }
}
