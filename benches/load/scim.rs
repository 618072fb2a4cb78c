//! The SCIM side: the work as Entra sends it, over HTTP to the daemon.

use serde_json::{Value, json};

use crate::client::{
    Created, Ctx, ENTERPRISE, OpResult, PATCH_OP, check_total, entra_user, group_body,
};

impl Ctx {
    pub async fn scim(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        want: u16,
    ) -> Result<Vec<u8>, String> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("authorization", &self.auth);
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        if status != want {
            return Err(format!(
                "{method} {path}: HTTP {status} (wanted {want}): {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        Ok(bytes.to_vec())
    }

    // -- SCIM side -----------------------------------------------------------------------

    pub async fn scim_create(&self, name: &str) -> OpResult {
        let body = serde_json::to_vec(&entra_user(name)).unwrap();
        let out = self
            .scim(reqwest::Method::POST, "/Users", Some(body), 201)
            .await?;
        let c: Created = serde_json::from_slice(&out).map_err(|e| format!("create {name}: {e}"))?;
        self.set_id(name.to_owned(), c.id);
        Ok(())
    }

    pub async fn scim_match(&self, name: &str, want: usize) -> OpResult {
        let path = format!("/Users?filter=userName%20eq%20%22{name}%22");
        let out = self.scim(reqwest::Method::GET, &path, None, 200).await?;
        check_total(&out, want, name)
    }

    pub async fn scim_patch(&self, kind: &str, id: &str, ops: Value, want: u16) -> OpResult {
        let body = serde_json::to_vec(&json!({"schemas": [PATCH_OP], "Operations": ops})).unwrap();
        self.scim(
            reqwest::Method::PATCH,
            &format!("/{kind}/{id}"),
            Some(body),
            want,
        )
        .await
        .map(|_| ())
    }

    pub async fn scim_update(&self, name: &str, i: usize) -> OpResult {
        let id = self.id(name)?;
        let ops = json!([
            {"op": "Replace", "path": "displayName", "value": format!("Updated User {i}")},
            {"op": "Replace", "path": "title", "value": format!("Lead {i}")},
            {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": format!("Dept {i}")},
        ]);
        self.scim_patch("Users", &id, ops, 200).await
    }

    pub async fn scim_disable(&self, name: &str) -> OpResult {
        let id = self.id(name)?;
        let ops = json!([{"op": "Replace", "path": "active", "value": "False"}]);
        self.scim_patch("Users", &id, ops, 200).await
    }

    pub async fn scim_create_group(&self, name: &str) -> OpResult {
        let body = serde_json::to_vec(&group_body(name)).unwrap();
        let out = self
            .scim(reqwest::Method::POST, "/Groups", Some(body), 201)
            .await?;
        let c: Created = serde_json::from_slice(&out).map_err(|e| format!("group {name}: {e}"))?;
        self.set_id(name.to_owned(), c.id);
        Ok(())
    }

    pub async fn scim_add_members(&self, group: &str, members: &[String]) -> OpResult {
        let gid = self.id(group)?;
        let mut value = Vec::with_capacity(members.len());
        for m in members {
            value.push(json!({"value": self.id(m)?}));
        }
        let ops = json!([{"op": "Add", "path": "members", "value": value}]);
        self.scim_patch("Groups", &gid, ops, 204).await
    }

    pub async fn scim_match_group(&self, name: &str, want: usize) -> OpResult {
        let path =
            format!("/Groups?excludedAttributes=members&filter=displayName%20eq%20%22{name}%22");
        let out = self.scim(reqwest::Method::GET, &path, None, 200).await?;
        check_total(&out, want, name)
    }
}
