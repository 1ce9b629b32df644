//! Owner devices: enrollment (`enroll.redeem`), list, revoke.

use dd_proto::message::EndReason;
use dd_proto::methods::{DeviceList, DeviceRef, EnrollRedeem, Enrolled};
use dd_proto::ErrorCode;

use super::pairing::{redeem_failed, redeem_guard};
use super::{done, err, ok, store_err, Ctx, Reply};
use crate::store::AuditAction;

/// `enroll.redeem`: makes the peer's key an owner device.
pub(crate) async fn enroll(cx: &Ctx<'_>, r: EnrollRedeem) -> Reply {
    let conn = cx.conn;
    redeem_guard(conn)?;
    // On a blocking thread: it waits for its (group) commit.
    let (st, key, peer, now) = (conn.agent.store.clone(), conn.key, conn.peer, cx.now);
    let done = tokio::task::spawn_blocking(move || {
        let device = st.redeem_enroll_token(&r.token, &key, &r.label, now)?;
        st.audit(
            AuditAction::DeviceEnrolled,
            &format!("device:{}", device.id),
            None,
            &format!("label {:?} from {}", device.label, peer),
            now,
        );
        Ok(device)
    })
    .await
    .map_err(|_| err(ErrorCode::Internal, "redeem task failed"))?;
    match done {
        Ok(device) => ok(Enrolled {
            device_id: device.id,
        }),
        Err(e) => Err(redeem_failed(cx, e)),
    }
}

/// `device.list`: all devices, revoked ones included.
pub(crate) fn list(cx: &Ctx<'_>) -> Reply {
    ok(DeviceList {
        devices: cx.conn.agent.store.list_devices().map_err(store_err)?,
    })
}

/// `device.revoke`: revokes the device and closes its connections.
pub(crate) fn revoke(cx: &Ctx<'_>, r: DeviceRef) -> Reply {
    let agent = &cx.conn.agent;
    let devices = agent.store.list_devices().map_err(store_err)?;
    let dev = devices
        .iter()
        .find(|d| d.id == r.device_id)
        .ok_or_else(|| err(ErrorCode::NotFound, "no such device"))?;
    agent
        .store
        .revoke_device(&r.device_id, cx.now)
        .map_err(store_err)?;
    if let Some(k) = dd_proto::keys::decode_key(&dev.key) {
        agent.live.cut(&[], Some(k), EndReason::Revoked);
    }
    agent.store.audit(
        AuditAction::DeviceRevoked,
        &cx.actor,
        None,
        &r.device_id,
        cx.now,
    );
    done()
}
