//! One integration-test binary: every test runs the real kiro-onboard against real local servers.

mod aws_errors;
mod aws_real_account;
mod canary;
mod cli;
mod console;
mod console_record;
mod dns_route53;
mod dns_verify;
mod docs;
mod entra;
mod entra_real;
mod faults;
mod harness;
mod iam_policies;
mod identity_center;
mod interrupt;
mod json_errors;
mod kms;
mod okta;
mod okta_real_org;
mod reference;
mod scim;
mod signin;
mod signin_identity_center;
mod untrusted_plan;
mod validate;
