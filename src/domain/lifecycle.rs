//! Instance states and the transitions the marketplace's calls cause.

/// Where an instance is in its life. Stored as the lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceStatus {
    /// Claimed, waiting for the application to provision it (asynchronous provisioning).
    Provisioning,
    Active,
    Frozen,
    Released,
    /// Provisioning gave up; visible to operators, answered `000005` by `queryInstance`.
    Failed,
}

impl InstanceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Provisioning => "provisioning",
            InstanceStatus::Active => "active",
            InstanceStatus::Frozen => "frozen",
            InstanceStatus::Released => "released",
            InstanceStatus::Failed => "failed",
        }
    }

    pub fn parse(stored: &str) -> Option<InstanceStatus> {
        Some(match stored {
            "provisioning" => InstanceStatus::Provisioning,
            "active" => InstanceStatus::Active,
            "frozen" => InstanceStatus::Frozen,
            "released" => InstanceStatus::Released,
            "failed" => InstanceStatus::Failed,
            _ => return None,
        })
    }

    /// Whether the buyer has a usable (or frozen but kept) instance that `queryInstance` reports.
    pub fn is_ready(self) -> bool {
        matches!(self, InstanceStatus::Active | InstanceStatus::Frozen)
    }
}

/// The `status` member of `updateInstanceStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    Freeze,
    Unfreeze,
}

impl StatusChange {
    /// `FREEZE`, `UNFREEZE` and the V1 value `NORMAL`, in any case.
    pub fn parse(value: &str) -> Option<StatusChange> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("FREEZE") {
            Some(StatusChange::Freeze)
        } else if value.eq_ignore_ascii_case("UNFREEZE") || value.eq_ignore_ascii_case("NORMAL") {
            Some(StatusChange::Unfreeze)
        } else {
            None
        }
    }
}

/// The `scene` of `refreshInstance`. Unknown scenes are applied as an expiry update, like a renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshScene {
    TrialToFormal,
    Renewal,
    UnsubscribeRenewalPeriod,
    RenewalChange,
    Unknown,
}

impl RefreshScene {
    pub fn parse(value: &str) -> RefreshScene {
        match value.trim() {
            "TRIAL_TO_FORMAL" => RefreshScene::TrialToFormal,
            "RENEWAL" => RefreshScene::Renewal,
            "UNSUBSCRIBE_RENEWAL_PERIOD" => RefreshScene::UnsubscribeRenewalPeriod,
            "RENEWAL_CHANGE" => RefreshScene::RenewalChange,
            _ => RefreshScene::Unknown,
        }
    }

    /// The scene's wire name (`UNKNOWN` for a scene koogate does not know).
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshScene::TrialToFormal => "TRIAL_TO_FORMAL",
            RefreshScene::Renewal => "RENEWAL",
            RefreshScene::UnsubscribeRenewalPeriod => "UNSUBSCRIBE_RENEWAL_PERIOD",
            RefreshScene::RenewalChange => "RENEWAL_CHANGE",
            RefreshScene::Unknown => "UNKNOWN",
        }
    }

    /// A trial conversion makes the instance a paid one.
    pub fn ends_trial(self) -> bool {
        self == RefreshScene::TrialToFormal
    }
}

/// What a call does to an instance in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Move to this status.
    To(InstanceStatus),
    /// Already there: succeed without a change.
    Unchanged,
    /// The instance is gone for this call: `000003`.
    Gone,
    /// Not possible yet (still provisioning): `000004`, the marketplace retries.
    NotYet,
}

/// `updateInstanceStatus` on an instance in `from`.
pub fn status_transition(from: InstanceStatus, change: StatusChange) -> Transition {
    use InstanceStatus::*;
    match (from, change) {
        (Released, _) => Transition::Gone,
        (Provisioning, _) => Transition::NotYet,
        (Active, StatusChange::Freeze) => Transition::To(Frozen),
        (Frozen, StatusChange::Unfreeze) => Transition::To(Active),
        (Active, StatusChange::Unfreeze) | (Frozen, StatusChange::Freeze) => Transition::Unchanged,
        // Nothing runs for a failed instance, so there is nothing to freeze or unfreeze.
        (Failed, _) => Transition::Unchanged,
    }
}

impl Transition {
    /// `releaseInstance` on an instance in `from`: always ends released; repeating it changes nothing.
    pub fn release(from: InstanceStatus) -> Transition {
        if from == InstanceStatus::Released { Transition::Unchanged } else { Transition::To(InstanceStatus::Released) }
    }

    /// `refreshInstance`, `upgradeInstance` and `changeInstanceCheck` need an instance that is not released.
    pub fn update(from: InstanceStatus) -> Transition {
        if from == InstanceStatus::Released { Transition::Gone } else { Transition::Unchanged }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InstanceStatus::*;

    #[test]
    fn status_names_round_trip() {
        for status in [Provisioning, Active, Frozen, Released, Failed] {
            assert_eq!(InstanceStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(InstanceStatus::parse("ACTIVE"), None);
    }

    #[test]
    fn freeze_and_unfreeze() {
        assert_eq!(status_transition(Active, StatusChange::Freeze), Transition::To(Frozen));
        assert_eq!(status_transition(Frozen, StatusChange::Unfreeze), Transition::To(Active));
        assert_eq!(status_transition(Frozen, StatusChange::Freeze), Transition::Unchanged);
        assert_eq!(status_transition(Active, StatusChange::Unfreeze), Transition::Unchanged);
        assert_eq!(status_transition(Released, StatusChange::Freeze), Transition::Gone);
        assert_eq!(status_transition(Released, StatusChange::Unfreeze), Transition::Gone);
        assert_eq!(status_transition(Provisioning, StatusChange::Freeze), Transition::NotYet);
        assert_eq!(status_transition(Failed, StatusChange::Freeze), Transition::Unchanged);
    }

    #[test]
    fn release_is_terminal_and_idempotent() {
        for from in [Provisioning, Active, Frozen, Failed] {
            assert_eq!(Transition::release(from), Transition::To(Released));
        }
        assert_eq!(Transition::release(Released), Transition::Unchanged);
        assert_eq!(Transition::update(Released), Transition::Gone);
        assert_eq!(Transition::update(Frozen), Transition::Unchanged);
    }

    #[test]
    fn status_values_are_read_leniently() {
        assert_eq!(StatusChange::parse("freeze"), Some(StatusChange::Freeze));
        assert_eq!(StatusChange::parse("UNFREEZE"), Some(StatusChange::Unfreeze));
        assert_eq!(StatusChange::parse("Normal"), Some(StatusChange::Unfreeze));
        assert_eq!(StatusChange::parse("DELETE"), None);
    }

    #[test]
    fn scenes() {
        assert_eq!(RefreshScene::parse("TRIAL_TO_FORMAL"), RefreshScene::TrialToFormal);
        assert!(RefreshScene::parse("TRIAL_TO_FORMAL").ends_trial());
        assert_eq!(RefreshScene::parse("RENEWAL_CHANGE"), RefreshScene::RenewalChange);
        assert_eq!(RefreshScene::parse("SOMETHING_NEW"), RefreshScene::Unknown);
        assert!(!RefreshScene::parse("RENEWAL").ends_trial());
    }
}
