//! The GitOps part of a spoke: its Argo CD cluster Secret in the hub, labelled
//! so ApplicationSets can target it. Not composed yet (a later issue); until
//! then this step adds nothing.

use super::Composition;

pub fn compose(_composition: &mut Composition<'_>) {}
