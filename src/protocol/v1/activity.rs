//! The V1 `activity` values (saas-v1.md §2–§3): the same operations as V2 under other names
//! (`upgrade`, `instanceStatus`) plus `expireInstance`, which V2 folds into status changes.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    NewInstance,
    RefreshInstance,
    ExpireInstance,
    ReleaseInstance,
    Upgrade,
    InstanceStatus,
    QueryInstance,
}

impl Activity {
    pub fn parse(name: &str) -> Option<Activity> {
        Some(match name {
            "newInstance" => Activity::NewInstance,
            "refreshInstance" => Activity::RefreshInstance,
            "expireInstance" => Activity::ExpireInstance,
            "releaseInstance" => Activity::ReleaseInstance,
            "upgrade" => Activity::Upgrade,
            "instanceStatus" => Activity::InstanceStatus,
            "queryInstance" => Activity::QueryInstance,
            _ => return None,
        })
    }
}
