//! `init`: a commented starter plan from templates/starter, and the plan's JSON Schema beside it
//! so that editors with a YAML language server complete and check it.

use std::path::Path;

use crate::cli::Idp;
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::printer::Printer;

const IDENTITY_CENTER: &str = include_str!("../../templates/starter/identity-center.yaml");
const OKTA: &str = include_str!("../../templates/starter/okta.yaml");
const ENTRA: &str = include_str!("../../templates/starter/entra.yaml");
const SCHEMA_FILE: &str = "plan.schema.json";

pub fn run(idp: Idp, output: &Path, force: bool, printer: &Printer) -> Result<ExitStatus, Error> {
    let starter = match idp {
        Idp::IdentityCenter => IDENTITY_CENTER,
        Idp::Okta => OKTA,
        Idp::Entra => ENTRA,
    };
    let schema_path = output.parent().unwrap_or(Path::new("")).join(SCHEMA_FILE);
    for path in [output, schema_path.as_path()] {
        if path.exists() && !force {
            return Err(Error::Usage(format!("{} already exists; pass --force to overwrite it", path.display())));
        }
    }
    // The Kiro Regions come from the one table (templates/requirements.yaml), not a copy here.
    let regions = &crate::requirements::latest().profile_regions;
    let regions = match regions.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    let starter = starter.replace("{profile_regions}", &regions);
    let starter = starter.as_str();
    let schema = serde_json::to_string_pretty(crate::plan::schema::plan_schema()).unwrap_or_default() + "\n";
    write(output, starter)?;
    write(&schema_path, &schema)?;
    printer.status(&format!("Wrote {} and {}", output.display(), schema_path.display()));
    printer.status(&format!(
        "Next: edit {0}, then run `kiro-onboard validate {0}` and `kiro-onboard plan {0}`",
        output.display()
    ));
    Ok(ExitStatus::Success)
}

fn write(path: &Path, contents: &str) -> Result<(), Error> {
    crate::files::write_atomically(path, contents.as_bytes(), 0o644)
        .map_err(|source| Error::Write { path: path.display().to_string(), source })
}
