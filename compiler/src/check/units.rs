//! Resolving written units (`nS/ms`) to [`Unit`]s.

use crate::diagnostics::{Diagnostics, catalog};
use crate::model::DisplayUnit;
use crate::source::SourceMap;
use crate::syntax::ast::{UnitExpr, UnitExprKind};
use crate::units::{Unit, lookup_unit};

/// The unit a unit expression denotes; unknown names are reported and
/// treated as dimensionless so checking can go on.
pub fn resolve_unit(u: &UnitExpr, diags: &mut Diagnostics) -> Option<Unit> {
    match &u.kind {
        UnitExprKind::One => Some(Unit::ONE),
        UnitExprKind::Name(name) => match lookup_unit(name) {
            Ok(unit) => Some(unit),
            Err(e) => {
                diags.push(catalog::unknown_unit(u.span, name, &e.candidates, false));
                None
            }
        },
        UnitExprKind::Mul(a, b) => Some(resolve_unit(a, diags)?.mul(resolve_unit(b, diags)?)),
        UnitExprKind::Div(a, b) => Some(resolve_unit(a, diags)?.div(resolve_unit(b, diags)?)),
        UnitExprKind::Pow(base, num, den) => {
            let base = resolve_unit(base, diags)?;
            match base.pow(*num, *den) {
                Some(unit) => Some(unit),
                None => {
                    diags.push(catalog::unit_power(u.span));
                    None
                }
            }
        }
    }
}

/// The display form of a declared unit: its text as written and its factor.
pub fn display_unit(u: &UnitExpr, unit: Unit, sources: &SourceMap) -> DisplayUnit {
    let text = sources
        .snippet(u.span)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("");
    DisplayUnit {
        text,
        internal_factor: unit.internal_factor(),
    }
}
