//! Running a seed again for the sweep screen: read the scenario file the sweep named,
//! pick its variant, run the seed and build its report, exactly as `hasim run` would.
//! This is the only place the UI simulates; the loop calls it between frames when
//! `update` asked for it, so `update` itself stays free of I/O.

use hasim_sim::report::{Report, ScenarioInfo};

use crate::app::Model;
use crate::sweep::ReplayRequest;

/// The report of `req`'s seed, and a warning when the file changed since the sweep
/// (the run may then differ from the one the sweep measured).
pub fn replay_seed(req: &ReplayRequest) -> Result<(Report, Option<String>), String> {
    let text = std::fs::read_to_string(&req.file).map_err(|e| format!("cannot read {}: {e}", req.file))?;
    let loaded = hasim_sim::scenario::load(&req.file, &text).map_err(|diags| match diags.first() {
        Some(d) => format!("{} no longer loads: {}", req.file, d.message),
        None => format!("{} no longer loads", req.file),
    })?;
    let scenario = match &req.variant {
        Some(v) => loaded.scenario.variant(v)?,
        None => loaded.scenario,
    };
    let out = hasim_sim::scenario::build(&scenario, Some(req.seed)).run_for(scenario.duration());
    let info = ScenarioInfo::new(&req.file, &text, &scenario, req.variant.as_deref());
    let warning = (info.fingerprint != req.fingerprint)
        .then(|| format!("{} changed since the sweep: this run may differ from the one it measured", req.file));
    Ok((Report::new(info, &scenario, &out), warning))
}

/// Carries out what `update` asked for, if anything: a replay opens as a run screen
/// (Esc returns), a failure becomes the status line.
pub fn perform(model: &mut Model) {
    let Some(req) = model.request.take() else { return };
    match replay_seed(&req) {
        Ok((report, warning)) => {
            model.open_run(report);
            model.status = warning;
        }
        Err(e) => model.status = Some(e),
    }
}
